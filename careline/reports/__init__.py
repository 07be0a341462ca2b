"""Reports and alerts: the weekly export (weekly.py) and spike/high-reach alerts (alerts.py)."""
