"""Pure Session protocol code: no sockets, no files, no clock reads."""
