"""``oddsight serve``: the HTTP API, its SQLite store, the job workers and the dashboard.

A thin front end over the library: handlers validate and store, workers call ``Detection`` / ``fit_oneclass`` /
``evaluate``. Nothing in the library imports this package.
"""
