-- Sends, a batch at a time, in one statement. Before, a send was five or
-- six statements, each a round trip to the database while the write lock
-- was held (membership, the retry check, seq, the row, the share log, the
-- event): on loopback the round trips, not the work, set the pace
-- (docs/benchmarks.md, issue 9).
--
-- Element i of each array is send i (p_shares[i] is its link shares as a
-- JSON array of rows, or NULL); all share p_created_at. One row comes back
-- per send, in order:
--   outcome 0: stored; new_id, new_seq, sender_handle and new_event are set.
--   outcome 1: a retry of (conversation, sender, client_txn_id); new_id is
--              the original message's (maybe stored earlier in this batch).
--   outcome 2: the sender is not a member; nothing else is set.
-- Refusals are outcomes, not errors, so that a refused send neither aborts
-- the transaction nor needs a savepoint (src/postgres/writer.rs).
--
-- The function takes the write lock itself (the key of `WRITE_LOCK` in
-- src/postgres/mod.rs; taking it again in one transaction is free). Holding
-- it, the newest event id is read once, and the batch's events take the
-- ids after it (as log_event_at in src/postgres/write.rs, without a hole).
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
    last_event BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(7737581523241428738);
    SELECT COALESCE(MAX(id), 0) INTO last_event FROM events;
    FOR i IN 1 .. COALESCE(array_length(p_bodies, 1), 0) LOOP
        outcome := NULL;
        new_id := NULL;
        new_seq := NULL;
        sender_handle := NULL;
        new_event := NULL;
        SELECT u.handle INTO sender_handle
          FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.conversation_id = p_conversations[i] AND m.user_id = p_senders[i]
           AND m.left_event IS NULL;
        IF NOT FOUND THEN
            outcome := 2;
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF p_txns[i] IS NOT NULL THEN
            SELECT id INTO new_id FROM messages
             WHERE conversation_id = p_conversations[i] AND sender_id = p_senders[i]
               AND client_txn_id = p_txns[i];
            IF FOUND THEN
                outcome := 1;
                RETURN NEXT;
                CONTINUE;
            END IF;
        END IF;
        -- The row lock of this UPDATE orders sends to one conversation: seq
        -- has no gaps and no duplicates.
        UPDATE conversations SET last_seq = last_seq + 1 WHERE id = p_conversations[i]
        RETURNING last_seq INTO new_seq;
        INSERT INTO messages (conversation_id, seq, sender_id, body, client_txn_id, links,
                              created_at, mentions, reply_to)
        VALUES (p_conversations[i], new_seq, p_senders[i], p_bodies[i], p_txns[i], p_links[i],
                p_created_at, p_mentions[i], p_reply_tos[i])
        RETURNING id INTO new_id;
        IF p_shares[i] IS NOT NULL THEN
            INSERT INTO link_shares (at, message_id, conversation_kind, member_count, sender_role,
                                     platform, owner, category, domain, lists, treatment, preview,
                                     policy_version, policies, bidi, mixed_script)
            SELECT s.at, new_id, s.conversation_kind, s.member_count, s.sender_role,
                   s.platform, s.owner, s.category, s.domain, s.lists, s.treatment, s.preview,
                   s.policy_version, s.policies, s.bidi, s.mixed_script
              FROM jsonb_to_recordset(p_shares[i]::JSONB) AS s(
                   at BIGINT, conversation_kind TEXT, member_count BIGINT, sender_role TEXT,
                   platform TEXT, owner TEXT, category TEXT, domain TEXT, lists TEXT,
                   treatment TEXT, preview BOOLEAN, policy_version BIGINT, policies TEXT,
                   bidi BOOLEAN, mixed_script BOOLEAN);
        END IF;
        last_event := last_event + 1;
        INSERT INTO events (id, conversation_id, kind, message_id, data, created_at)
        VALUES (last_event, p_conversations[i], 'message', new_id, NULL, p_created_at);
        new_event := last_event;
        outcome := 0;
        RETURN NEXT;
    END LOOP;
END;
$$;
