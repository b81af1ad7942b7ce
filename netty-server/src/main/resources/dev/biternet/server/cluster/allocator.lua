-- One session's piece allocator in Redis (RedisPieceAllocator): one script, the operation
-- named by ARGV[1]; ARGV[2] is the calling node, ARGV[3] its link, ARGV[4] the pieces the node's
-- clients verified since its last call ("i,j,...", done first, whatever the operation),
-- ARGV[5..] the operation's arguments. docs/DESIGN.md "(issue 20)" has the why. KEYS, the same for every operation:
--   1 st     string, one byte a piece: 0 unclaimed, 1 claimed, 2 done
--   2 m      hash: n (pieces), av (claimable), cur (next never-claimed), rem (not done),
--            dup (endgame copies), seq (claim order), ttl (ms every key lives unrenewed)
--   3 rel    zset of released pieces, score = index (lowest first)
--   4 fl     zset of in-flight pieces, score = seq of the first claim (oldest first)
--   5 h      hash: in-flight piece -> "<first claim, us> <holder> [<holder>]"; holder = node:link
--   6 nodes  zset: node -> its lease's end (ms, Redis clock)
--   7 s      hash: the session itself (RedisSessions); only its expiry is kept here
local st, m, rel, fl, h, nodes = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]

local function state(i)
  local b = redis.call('GETRANGE', st, i, i)
  if b == '' then return 0 end
  return string.byte(b)
end

local function setstate(i, v)
  redis.call('SETRANGE', st, i, string.char(v))
end

local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- first-claim time and holders of an in-flight piece, or nil
local function holders(i)
  local v = redis.call('HGET', h, i)
  if not v then return nil, {} end
  local parts = {}
  for w in string.gmatch(v, '%S+') do parts[#parts + 1] = w end
  local t = table.remove(parts, 1)
  return t, parts
end

-- holder 'who' drops piece i; the last holder gone, it is released (claimable again first)
local function drop(i, who)
  local t, hs = holders(i)
  if not t then return false end
  local keep, found = {}, false
  for _, x in ipairs(hs) do
    if x == who then found = true else keep[#keep + 1] = x end
  end
  if not found then return false end
  if #keep == 0 then
    redis.call('HDEL', h, i)
    redis.call('ZREM', fl, i)
    setstate(i, 0)
    redis.call('ZADD', rel, i, i)
  else
    redis.call('HSET', h, i, t .. ' ' .. table.concat(keep, ' '))
  end
  return true
end

-- every holder matching pred drops what it holds; returns how many holds were dropped
local function dropwhere(pred)
  local dropped = 0
  for _, i in ipairs(redis.call('ZRANGE', fl, 0, -1)) do
    local _, hs = holders(i)
    for _, x in ipairs(hs) do
      if pred(x) and drop(i, x) then dropped = dropped + 1 end
    end
  end
  return dropped
end

-- nodes whose lease ended lose their claims; returns how many holds that dropped
local function expire(me, nowms)
  local dropped = 0
  for _, d in ipairs(redis.call('ZRANGEBYSCORE', nodes, '-inf', nowms)) do
    if d ~= me then
      local prefix = d .. ':'
      dropped = dropped + dropwhere(function(x) return string.sub(x, 1, #prefix) == prefix end)
      redis.call('ZREM', nodes, d)
    end
  end
  return dropped
end

-- the reply of every operation: {result, kind, expired, remaining, in flight, copies, endgame, extra...}
local function reply(result, kind, expired, extra)
  local mm = redis.call('HMGET', m, 'n', 'av', 'cur', 'rem', 'dup', 'ttl')
  if not mm[1] then return redis.error_reply('BN_GONE session state expired') end
  -- a key emptied is deleted and made again without an expiry: give it the session's
  for i = 1, 6 do
    if redis.call('PTTL', KEYS[i]) == -1 then redis.call('PEXPIRE', KEYS[i], mm[6]) end
  end
  local n, av, cur, rem = tonumber(mm[1]), tonumber(mm[2]), tonumber(mm[3]), tonumber(mm[4])
  local endgame = 0
  if av == n and cur >= n and rem > 0 and redis.call('ZCARD', rel) == 0 then endgame = 1 end
  local r = {result, kind, expired, rem, redis.call('ZCARD', fl), tonumber(mm[5]), endgame}
  if extra then
    for _, x in ipairs(extra) do r[#r + 1] = x end
  end
  return r
end

local op, me = ARGV[1], ARGV[2]
local who = me .. ':' .. ARGV[3]

if op == 'init' then
  -- a new session's state; a node joining an existing one finds it as it is
  local n = tonumber(ARGV[5])
  if redis.call('HSETNX', m, 'n', n) == 1 then
    -- ttl (ARGV[6]): every key expires that long after it was made or last renewed, so a
    -- node that dies before its first renewal leaves nothing behind for ever
    redis.call('HSET', m, 'av', 0, 'cur', 0, 'rem', n, 'dup', 0, 'seq', 0, 'ttl', ARGV[6])
    if n > 0 then redis.call('SETRANGE', st, n - 1, string.char(0)) end
  end
  return reply(0, 0, 0)
end
if redis.call('EXISTS', m) == 0 then
  return redis.error_reply('BN_GONE session state expired')
end

-- piece i verified by the client; true the first time
local function complete(i)
  if state(i) == 2 then return false end
  setstate(i, 2)
  redis.call('ZREM', fl, i)
  redis.call('HDEL', h, i)
  redis.call('HINCRBY', m, 'rem', -1)
  return true
end

for i in string.gmatch(ARGV[4], '%d+') do complete(tonumber(i)) end

if op == 'claim' then
  local now = now_us()
  local nowms = math.floor(now / 1000)
  redis.call('ZADD', nodes, nowms + tonumber(ARGV[5]), me)
  local expired = expire(me, nowms)
  -- ARGV[7]: how many to claim at most (a node claims a few ahead for a link: one call, several pieces)
  local want = tonumber(ARGV[7] or '1')
  local got = {}
  local function take(i, kind)
    setstate(i, 1)
    redis.call('ZADD', fl, redis.call('HINCRBY', m, 'seq', 1), i)
    redis.call('HSET', h, i, string.format('%d', now) .. ' ' .. who)
    got[#got + 1] = i
    got[#got + 1] = kind
  end
  -- ARGV[6]: the pieces whose digests this node has (it sends the digest with the piece)
  local mine = tonumber(ARGV[6])
  while #got < 2 * want do
    local r = redis.call('ZRANGEBYSCORE', rel, '-inf', '(' .. mine, 'LIMIT', 0, 1)
    if #r == 0 then break end
    redis.call('ZREM', rel, r[1])
    local i = tonumber(r[1])
    if state(i) == 0 then take(i, 1) end
  end
  local mm = redis.call('HMGET', m, 'cur', 'av', 'n')
  local cur, av, n = tonumber(mm[1]), math.min(tonumber(mm[2]), mine), tonumber(mm[3])
  while #got < 2 * want and cur < av do
    local i = cur
    cur = cur + 1
    if state(i) == 0 then take(i, 0) end
  end
  redis.call('HSET', m, 'cur', cur)
  if #got > 0 then
    -- the first claimed as the result, the others after the counts as (index, kind) pairs
    local more = {}
    for j = 3, #got do more[#more + 1] = got[j] end
    return reply(got[1], got[2], expired, more)
  end
  if av < n or redis.call('ZCARD', rel) > 0 then return reply(-1, 0, expired) end
  -- the endgame: pieces in flight on one other link, oldest first, as (index, holder, age us)
  local c = {}
  for _, i in ipairs(redis.call('ZRANGE', fl, 0, -1)) do
    local t, hs = holders(i)
    if #hs == 1 and hs[1] ~= who then
      c[#c + 1] = tonumber(i)
      c[#c + 1] = hs[1]
      c[#c + 1] = now - tonumber(t)
    end
  end
  return reply(-2, 0, expired, c)
elseif op == 'copy' then
  -- a second copy of piece i, if it is still in flight on one other link only
  local i = tonumber(ARGV[5])
  local t, hs = holders(i)
  if state(i) ~= 1 or not t or #hs ~= 1 or hs[1] == who then return reply(-1, 0, 0) end
  redis.call('HSET', h, i, t .. ' ' .. hs[1] .. ' ' .. who)
  redis.call('HINCRBY', m, 'dup', 1)
  return reply(i, 2, 0)
elseif op == 'complete' then
  if complete(tonumber(ARGV[5])) then return reply(1, 0, 0) end
  return reply(0, 0, 0)
elseif op == 'release' then
  drop(tonumber(ARGV[5]), who)
  return reply(0, 0, 0)
elseif op == 'releaseAll' then
  return reply(dropwhere(function(x) return x == who end), 0, 0)
elseif op == 'markDone' then
  -- ARGV[5]: the pieces as hex, java.util.BitSet.toByteArray order (bit i of byte b is piece 8b+i)
  local hex, done = ARGV[5], 0
  for b = 0, #hex / 2 - 1 do
    local byte = tonumber(string.sub(hex, 2 * b + 1, 2 * b + 2), 16)
    for bit = 0, 7 do
      if byte % 2 == 1 and state(8 * b + bit) == 0 then
        setstate(8 * b + bit, 2)
        done = done + 1
      end
      byte = math.floor(byte / 2)
    end
  end
  if done > 0 then redis.call('HINCRBY', m, 'rem', -done) end
  return reply(done, 0, 0)
elseif op == 'available' then
  -- nodes publish hashes at their own pace: the count only grows
  local count = tonumber(ARGV[5])
  if count > tonumber(redis.call('HGET', m, 'av')) then redis.call('HSET', m, 'av', count) end
  return reply(0, 0, 0)
elseif op == 'renew' then
  -- the node is alive: its lease, and the session's keys, go on
  local nowms = math.floor(now_us() / 1000)
  redis.call('ZADD', nodes, nowms + tonumber(ARGV[5]), me)
  for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ARGV[6]) end
  return reply(0, 0, expire(me, nowms))
elseif op == 'stats' then
  return reply(0, 0, 0)
end
return redis.error_reply('BN_OP unknown operation ' .. op)
