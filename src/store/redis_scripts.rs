//! The Lua scripts the Redis store runs, each one atomic on the server.

use redis::Script;

/// Records a revocation, drops those run out, keeps the set's expiry at its
/// latest member's, and tells every instance.
const REVOKE: &str = r"
local key, now, channel = KEYS[1], ARGV[1], ARGV[2]
for i = 3, #ARGV, 2 do
  redis.call('ZADD', key, 'GT', ARGV[i], ARGV[i + 1])
  redis.call('PUBLISH', channel, 'r ' .. ARGV[i] .. ' ' .. ARGV[i + 1])
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if top[2] then redis.call('EXPIREAT', key, top[2]) end
return 1
";

/// Stores an entry as one of a group's, unless the group holds `max` live ones.
/// Members that expired or were taken leave the group first.
const PUT_IN_GROUP: &str = r"
local group, key = KEYS[1], KEYS[2]
local now, max, untl, value, prefix, member = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], ARGV[6]
redis.call('ZREMRANGEBYSCORE', group, '-inf', now)
for _, m in ipairs(redis.call('ZRANGE', group, 0, -1)) do
  if redis.call('EXISTS', prefix .. m) == 0 then redis.call('ZREM', group, m) end
end
if redis.call('ZCARD', group) >= max then return 0 end
redis.call('SET', key, value, 'EXAT', untl)
redis.call('ZADD', group, untl, member)
local top = redis.call('ZRANGE', group, -1, -1, 'WITHSCORES')
redis.call('EXPIREAT', group, top[2])
return 1
";

/// A fixed-window counter: the expiry is set when the counter is made.
const COUNT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIREAT', KEYS[1], ARGV[1]) end
return n
";

/// Adds a set member with its own expiry; the set lives as long as its latest.
const ADD_MEMBER: &str = r"
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if top[2] then redis.call('EXPIREAT', KEYS[1], top[2]) end
return 1
";

/// The scripts, loaded once per store.
pub(super) struct Scripts {
    pub revoke: Script,
    pub put_in_group: Script,
    pub count: Script,
    pub add_member: Script,
}

impl Scripts {
    pub fn new() -> Self {
        Self {
            revoke: Script::new(REVOKE),
            put_in_group: Script::new(PUT_IN_GROUP),
            count: Script::new(COUNT),
            add_member: Script::new(ADD_MEMBER),
        }
    }
}
