-- A path once skipped (unreadable) that has now been read: no longer ignored.
DELETE FROM ignored_file WHERE path = :path;
