"""Writes of the calls app: <entity>_<action>(*, …) services, the only place its rules live."""
