"""Backups that restore: the database and the keys, encrypted with a passphrase (see README,
"Backups and the restore drill"). The object store is not in them: it is replicated."""
