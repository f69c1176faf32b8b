-- The client URL (with its loginToken) waiting behind a confirmation page,
-- sealed with a key only the flow's browser can rebuild; cleared when shown.
ALTER TABLE flows ADD COLUMN pending_confirm TEXT;
