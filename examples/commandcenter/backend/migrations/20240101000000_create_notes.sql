-- Release v1.0.0: notes.
-- migrate:up
CREATE TABLE notes (
    id         bigserial PRIMARY KEY,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- migrate:down
DROP TABLE notes;
