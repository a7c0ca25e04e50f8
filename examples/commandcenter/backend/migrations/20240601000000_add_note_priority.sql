-- Release v1.1.0: notes get a priority.
-- migrate:up
ALTER TABLE notes ADD COLUMN priority integer NOT NULL DEFAULT 0;
CREATE INDEX notes_priority_idx ON notes (priority);

-- migrate:down
DROP INDEX notes_priority_idx;
ALTER TABLE notes DROP COLUMN priority;
