"""Server-side Lua: the one round trip a check makes, and the incremental suspension writes.

Kept as Python strings (not .lua files) so they ship inside the package with no
package-data rules. They use only Redis 6.2 commands and no function/shebang
features, so they run on the embedded 6.2 server and on 7.x alike; redis-py
loads each once and calls it by SHA (re-loading it after a failover).

LOOKUP_MANY implements exactly `sipcheck.store.TableSet.facts` (for one number or a batch); the
parity tests in tests/cache check the two against each other.
"""

from __future__ import annotations

# Every check, one or many: the sync `lookup` sends a batch of one, `alookup` the checks one event
# loop queued in one iteration, so they all see the same version. KEYS[1] live pointer.
# ARGV: 1 key prefix, 2 static version of the caller's local snapshot ('' = none), 3 the numbers, one
#       record each, records separated by \30 (RS), fields by \31 (US): block prefix ('' = none),
#       national number, E.164, ingress: '' = none given, '=' .. peer, or '%' .. the peer's bytes in
#       hex when the peer contains \30 or \31 (the peer is the only free-text field). One argument
#       instead of four per number: encoding the arguments is the client's main cost.
# Returns {false} when nothing was ever published; else {N, static, mode, rules, ...} where rules is the
# live rules component's version ('' = none: the caller matches rules from its copy of that version),
# mode 2 says the live data set lacks a required component (blocks, certifications, suspensions: every
# check meets the fail policy), mode 1 (the caller's snapshot is current) is followed by one suspension
# per number, and mode 0 by the manifest's coverage field ("range=as-of,...") and then 8 values per
# number: suspension, block, dref, djson, sref, sjson, iref, ijson (nil where absent).
LOOKUP_MANY = r"""
local n = redis.call('GET', KEYS[1])
if not n then return {false} end
local p = ARGV[1]
local m = redis.call('HMGET', p .. ':manifest:' .. n,
  'static', 'suspensions', 'blocks', 'wholesale', 'trunks', 'wlens', 'certifications', 'coverage', 'rules')
local static = m[1]
local rules = m[9] or ''
if not (m[2] and m[3] and m[7]) then return {n, static, 2, rules} end
local bps, nats, e164s, peers = {}, {}, {}, {}
local count = 0
local s = ARGV[3]
local len = #s
local pos = 1
while pos <= len do
  local a = string.find(s, '\31', pos, true)
  local b = string.find(s, '\31', a + 1, true)
  local c = string.find(s, '\31', b + 1, true)
  local e = string.find(s, '\30', c + 1, true) or (len + 1)
  count = count + 1
  bps[count] = string.sub(s, pos, a - 1)
  nats[count] = string.sub(s, a + 1, b - 1)
  e164s[count] = string.sub(s, b + 1, c - 1)
  peers[count] = string.sub(s, c + 1, e - 1)
  pos = e + 1
end
local susps = {}
if m[2] and count > 0 then
  susps = redis.call('HMGET', p .. ':suspensions:' .. m[2], unpack(e164s))
else
  for i = 1, count do susps[i] = false end
end
if ARGV[2] ~= '' and ARGV[2] == static then
  local out = {n, static, 1, rules}
  for i = 1, count do out[i + 4] = susps[i] end
  return out
end
local refs = p .. ':refs:' .. tostring(static)
local ops = p .. ':ops:' .. tostring(static)
local function op(ref)
  local id = redis.call('HGET', refs, ref)
  if id then return id, redis.call('HGET', ops, id) end
  return '', false
end
local bkey = m[3] and (p .. ':blocks:' .. m[3])
local wkey = m[4] and m[6] and m[6] ~= '' and (p .. ':wholesale:' .. m[4])
local tkey = m[5] and (p .. ':trunks:' .. m[5])
local out = {n, static, 0, rules, m[8] or ''}
local j = 5
for i = 1, count do
  local bp, national, peer = bps[i], nats[i], peers[i]
  local block, dref, djson, sref, sjson, iref, ijson = false, false, false, false, false, false, false
  if bp ~= '' and bkey then
    block = redis.call('HGET', bkey, bp)
    if block then
      local a = string.find(block, '\31', 1, true)
      local b = string.find(block, '\31', a + 1, true)
      dref = string.sub(block, b + 1)
      local did
      did, djson = op(dref)
      if wkey then
        for len in string.gmatch(m[6], '%d+') do
          local w = redis.call('HGET', wkey, string.sub(national, 1, tonumber(len)))
          if w then
            local sid, sj = op(w)
            if sid ~= did or sid == '' then
              sref = w
              sjson = sj
            end
            break
          end
        end
      end
    end
  end
  if peer ~= '' and tkey then
    local name = string.sub(peer, 2)
    if string.byte(peer, 1) == 37 then  -- '%': hex-encoded
      name = (string.gsub(name, '%x%x', function(h) return string.char(tonumber(h, 16)) end))
    end
    iref = redis.call('HGET', tkey, name)
    if iref then
      local _
      _, ijson = op(iref)
    end
  end
  out[j + 1], out[j + 2], out[j + 3], out[j + 4] = susps[i], block, dref, djson
  out[j + 5], out[j + 6], out[j + 7], out[j + 8] = sref, sjson, iref, ijson
  j = j + 8
end
return out
"""

# KEYS[1] live pointer. ARGV: 1 key prefix, 2 events channel, 3 'add' | 'remove', then fields
# (add: number, value pairs; remove: numbers). Applies to the live version's suspension hash, so
# the change takes effect for every reader at once, numbers the change ({p}:suspseq) and publishes
# it as a delta, "suspensions N SEQ OP" newline then the fields joined by US (\x1f), which local
# snapshots apply in order (see snapshot.py). Returns {count added / removed, SEQ}; {-1|-2, 0}
# when there is no live version / no suspension component yet.
SUSPEND = r"""
local n = redis.call('GET', KEYS[1])
if not n then return {-1, 0} end
local p = ARGV[1]
local sv = redis.call('HGET', p .. ':manifest:' .. n, 'suspensions')
if not sv then return {-2, 0} end
local key = p .. ':suspensions:' .. sv
local count = 0
if ARGV[3] == 'add' then
  for i = 4, #ARGV, 2 do
    redis.call('HSET', key, ARGV[i], ARGV[i + 1])
    count = count + 1
  end
else
  for i = 4, #ARGV do
    count = count + redis.call('HDEL', key, ARGV[i])
  end
end
local seq = redis.call('INCR', p .. ':suspseq')
redis.call('PUBLISH', ARGV[2], 'suspensions ' .. n .. ' ' .. seq .. ' ' .. ARGV[3] .. '\n' ..
  table.concat(ARGV, '\31', 4))
-- A full suspension list is being written: the switch replays this change onto it.
local build_ttl = redis.call('PTTL', p .. ':suspbuild')
if build_ttl > 0 then
  redis.call('RPUSH', p .. ':suspbuild:log', ARGV[3] .. '\31' .. table.concat(ARGV, '\31', 4))
  redis.call('PEXPIRE', p .. ':suspbuild:log', build_ttl)
end
return {count, seq}
"""

# The switch of a publish: replay the suspension changes made while the new list was written
# (KEYS[4]: that list, or '' when the publish carries no suspensions), persist the new keys, point
# live at the new version and announce it, all in one atomic step, so that no change made during the
# build is lost and none lands on the old list after the replay.
# KEYS: live, suspbuild, suspbuild:log, new suspension hash or ''. ARGV: version, events, keys...
SWITCH = r"""
local replayed = 0
if KEYS[4] ~= '' then
  local entries = redis.call('LRANGE', KEYS[3], 0, -1)
  for _, entry in ipairs(entries) do
    local fields = {}
    local start = 1
    while true do
      local stop = string.find(entry, '\31', start, true)
      if not stop then
        table.insert(fields, string.sub(entry, start))
        break
      end
      table.insert(fields, string.sub(entry, start, stop - 1))
      start = stop + 1
    end
    if fields[1] == 'add' then
      for i = 2, #fields - 1, 2 do redis.call('HSET', KEYS[4], fields[i], fields[i + 1]) end
    else
      for i = 2, #fields do redis.call('HDEL', KEYS[4], fields[i]) end
    end
    replayed = replayed + 1
  end
  redis.call('DEL', KEYS[2], KEYS[3])
end
for i = 3, #ARGV do redis.call('PERSIST', ARGV[i]) end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], 'publish ' .. ARGV[1])
return replayed
"""

# Compare-and-delete for the publish lock.
UNLOCK = r"""
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
