-- External ids: the id a customer's HR system or identity provider gives a
-- member, unique within the customer.
ALTER TABLE memberships ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX memberships_external_id_idx ON memberships (customer_id, external_id)
    WHERE external_id IS NOT NULL;

-- A customer's named groups of members (the job aid's "user group tags").
CREATE TABLE customer_groups (
    id          TEXT PRIMARY KEY NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    description TEXT,
    external_id TEXT,
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX customer_groups_name_idx ON customer_groups (customer_id, name_key);
CREATE UNIQUE INDEX customer_groups_external_id_idx ON customer_groups (customer_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX customer_groups_created_idx ON customer_groups (customer_id, created_at DESC, id DESC);

-- A group's members: memberships of its customer, gone with the membership.
CREATE TABLE group_members (
    group_id    TEXT NOT NULL REFERENCES customer_groups (id) ON DELETE CASCADE,
    customer_id TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    added_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, user_id),
    FOREIGN KEY (customer_id, user_id) REFERENCES memberships (customer_id, user_id) ON DELETE CASCADE
);
CREATE INDEX group_members_member_idx ON group_members (customer_id, user_id);
