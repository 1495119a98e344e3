-- read_index.lua: the change index of one capability (or of a whole namespace), so a
-- discovery read can answer 304 without reading providers or rendering anything.
--
-- KEYS[1] capver  HASH    capability -> counter bumped when a provider joins, changes, leaves
-- KEYS[2] due     ZSET    agent id -> ms of its next status transition (sweeper's work list)
-- KEYS[3] events  STREAM  the namespace's events (register, update, recover, degraded, ...)
-- ARGV[1] capability name; '' for the namespace as a whole
-- Returns "<counter>-<last event id>", or false while the sweeper is behind (prelude's
-- change_index).
return change_index(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
