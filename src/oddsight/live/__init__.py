"""Live monitoring: cameras and streams scored as they arrive (``oddsight watch``)."""
