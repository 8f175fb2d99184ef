"""Writes of the telecom app: <entity>_<action>(*, …) services, the only place its rules live."""
