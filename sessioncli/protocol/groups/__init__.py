"""Session groups v2 (03 ids), pure: config messages, Info/Members/Keys, auth, messages (GROUPS-V2.md)."""
