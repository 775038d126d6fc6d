-- A send in one statement. Before, a send was five or six statements, each
-- a round trip to the database while the write lock was held (membership,
-- the retry check, seq, the row, the share log, the event): on loopback the
-- round trips, not the work, set the pace (docs/benchmarks.md, issue 9).
--
-- The function takes the write lock itself (the key of `WRITE_LOCK` in
-- src/postgres/mod.rs; taking it again in the same transaction is free), so
-- a caller may send it in a pipeline beside other statements without
-- relying on their order.
--
-- Refusals are outcomes, not errors, so that a refused send does not abort
-- the transaction it shares with other sends:
--   outcome 0: stored; new_id, new_seq, sender_handle and new_event are set.
--   outcome 1: a retry of (conversation, sender, client_txn_id); new_id is
--              the original message's.
--   outcome 2: the sender is not a member (nothing else is set).
--
-- p_shares is a JSON array of link-share rows (or NULL), logged with the
-- new message's id.
CREATE FUNCTION kaifang_append_message(
    p_conversation BIGINT,
    p_sender BIGINT,
    p_body TEXT,
    p_txn TEXT,
    p_links TEXT,
    p_created_at BIGINT,
    p_mentions TEXT,
    p_reply_to BIGINT,
    p_shares JSONB,
    OUT outcome INT,
    OUT new_id BIGINT,
    OUT new_seq BIGINT,
    OUT sender_handle TEXT,
    OUT new_event BIGINT
) LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7737581523241428738);
    SELECT u.handle INTO sender_handle
      FROM memberships m JOIN users u ON u.id = m.user_id
     WHERE m.conversation_id = p_conversation AND m.user_id = p_sender
       AND m.left_event IS NULL;
    IF NOT FOUND THEN
        outcome := 2;
        RETURN;
    END IF;
    IF p_txn IS NOT NULL THEN
        SELECT id INTO new_id FROM messages
         WHERE conversation_id = p_conversation AND sender_id = p_sender
           AND client_txn_id = p_txn;
        IF FOUND THEN
            outcome := 1;
            RETURN;
        END IF;
    END IF;
    -- The row lock of this UPDATE orders sends to one conversation: seq has
    -- no gaps and no duplicates.
    UPDATE conversations SET last_seq = last_seq + 1 WHERE id = p_conversation
    RETURNING last_seq INTO new_seq;
    INSERT INTO messages (conversation_id, seq, sender_id, body, client_txn_id, links,
                          created_at, mentions, reply_to)
    VALUES (p_conversation, new_seq, p_sender, p_body, p_txn, p_links, p_created_at,
            p_mentions, p_reply_to)
    RETURNING id INTO new_id;
    IF p_shares IS NOT NULL THEN
        INSERT INTO link_shares (at, message_id, conversation_kind, member_count, sender_role,
                                 platform, owner, category, domain, lists, treatment, preview,
                                 policy_version, policies, bidi, mixed_script)
        SELECT s.at, new_id, s.conversation_kind, s.member_count, s.sender_role,
               s.platform, s.owner, s.category, s.domain, s.lists, s.treatment, s.preview,
               s.policy_version, s.policies, s.bidi, s.mixed_script
          FROM jsonb_to_recordset(p_shares) AS s(
               at BIGINT, conversation_kind TEXT, member_count BIGINT, sender_role TEXT,
               platform TEXT, owner TEXT, category TEXT, domain TEXT, lists TEXT,
               treatment TEXT, preview BOOLEAN, policy_version BIGINT, policies TEXT,
               bidi BOOLEAN, mixed_script BOOLEAN);
    END IF;
    -- The newest event id plus one, as in log_event_at (src/postgres/write.rs).
    INSERT INTO events (id, conversation_id, kind, message_id, data, created_at)
    SELECT COALESCE(MAX(id), 0) + 1, p_conversation, 'message', new_id, NULL, p_created_at
      FROM events
    RETURNING id INTO new_event;
    outcome := 0;
END;
$$;

-- A batch of sends in one statement, in array order: element i of each
-- array is send i (p_shares[i] is its JSON shares as text, or NULL). Sent
-- alone, the statement is its own transaction, so a batch of sends costs
-- one round trip with its commit. The loop keeps the order: a retry later
-- in the batch finds the message an earlier element stored.
CREATE FUNCTION kaifang_append_messages(
    p_conversations BIGINT[],
    p_senders BIGINT[],
    p_bodies TEXT[],
    p_txns TEXT[],
    p_links TEXT[],
    p_created_at BIGINT,
    p_mentions TEXT[],
    p_reply_tos BIGINT[],
    p_shares TEXT[]
) RETURNS TABLE (outcome INT, new_id BIGINT, new_seq BIGINT, sender_handle TEXT, new_event BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    i INT;
BEGIN
    FOR i IN 1 .. COALESCE(array_length(p_bodies, 1), 0) LOOP
        RETURN QUERY SELECT * FROM kaifang_append_message(
            p_conversations[i], p_senders[i], p_bodies[i], p_txns[i], p_links[i],
            p_created_at, p_mentions[i], p_reply_tos[i], p_shares[i]::JSONB);
    END LOOP;
END;
$$;
