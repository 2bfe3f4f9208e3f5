ALTER TABLE api_clients DROP COLUMN created_by_client;
