"""Server-side Lua: the one round trip a check makes, and the incremental suspension writes.

Kept as Python strings (not .lua files) so they ship inside the package with no
package-data rules. They use only Redis 6.2 commands and no function/shebang
features, so they run on the embedded 6.2 server and on 7.x alike; redis-py
loads each once and calls it by SHA (re-loading it after a failover).

LOOKUP implements exactly `sipcheck.store.TableSet.facts`; the parity test in
tests/cache checks the two against each other.
"""

from __future__ import annotations

# KEYS[1] live pointer.
# ARGV: 1 key prefix, 2 block prefix ('' = none), 3 national number, 4 E.164,
#       5 ingress peer, 6 '1' when an ingress peer was given, 7 static version of the caller's
#       local snapshot ('' = none).
# Returns {false} when nothing was ever published; {N, static, suspension} when the caller's snapshot is
# current; else {N, static, suspension, block, dref, djson, sref, sjson, iref, ijson}.
LOOKUP = r"""
local n = redis.call('GET', KEYS[1])
if not n then return {false} end
local p = ARGV[1]
local m = redis.call('HMGET', p .. ':manifest:' .. n,
  'static', 'suspensions', 'blocks', 'wholesale', 'trunks', 'wlens')
local static = m[1]
local susp = false
if m[2] then susp = redis.call('HGET', p .. ':suspensions:' .. m[2], ARGV[4]) end
if ARGV[7] ~= '' and ARGV[7] == static then return {n, static, susp} end
local refs = p .. ':refs:' .. tostring(static)
local ops = p .. ':ops:' .. tostring(static)
local function op(ref)
  local id = redis.call('HGET', refs, ref)
  if id then return id, redis.call('HGET', ops, id) end
  return '', false
end
local block, dref, djson, sref, sjson, iref, ijson = false, false, false, false, false, false, false
if ARGV[2] ~= '' and m[3] then
  block = redis.call('HGET', p .. ':blocks:' .. m[3], ARGV[2])
  if block then
    local a = string.find(block, '\31', 1, true)
    local b = string.find(block, '\31', a + 1, true)
    dref = string.sub(block, b + 1)
    local did
    did, djson = op(dref)
    if m[4] and m[6] and m[6] ~= '' then
      local wk = p .. ':wholesale:' .. m[4]
      local national = ARGV[3]
      for len in string.gmatch(m[6], '%d+') do
        local w = redis.call('HGET', wk, string.sub(national, 1, tonumber(len)))
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
if ARGV[6] == '1' and m[5] then
  iref = redis.call('HGET', p .. ':trunks:' .. m[5], ARGV[5])
  if iref then
    local _
    _, ijson = op(iref)
  end
end
return {n, static, susp, block, dref, djson, sref, sjson, iref, ijson}
"""

# KEYS[1] live pointer. ARGV: 1 key prefix, 2 events channel, 3 'add' | 'remove', then fields
# (add: number, value pairs; remove: numbers). Applies to the live version's suspension hash, so
# the change takes effect for every reader at once; returns the count added / removed.
SUSPEND = r"""
local n = redis.call('GET', KEYS[1])
if not n then return -1 end
local p = ARGV[1]
local sv = redis.call('HGET', p .. ':manifest:' .. n, 'suspensions')
if not sv then return -2 end
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
redis.call('PUBLISH', ARGV[2], 'suspensions ' .. n)
return count
"""

# Compare-and-delete for the publish lock.
UNLOCK = r"""
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
