"""The SIP agent: a pjsua2 B2BUA that screens forwarded calls and plays the identification tone.

This is the only package that imports ``pjsua2``, and only `runtime`, `relay`,
`probe_call` and `agent` do; the message parsing (`sipmsg`), the admission
control (`admission`) and the UDP front (`front`) are plain Python, tested
without the library.

Layout (one job per module):

- `sipmsg`     pure SIP text helpers: headers, caller identity, responses built by the front
- `admission`  pure: call-slot accounting and the INVITE rate limit (clock passed in)
- `front`      asyncio UDP front on the public port: sheds load (503) and strangers (403)
               before pjsip sees them
- `runtime`    the thread that owns pjsua2 and the registry of its objects
- `relay`      the B2BUA legs, the tone, the bridge
- `tone`       renders the configured tone profile to the WAV pjsua2 plays
- `agent`      one agent process (asyncio + runtime + front) and the N-process supervisor
- `probe_call` the probe: call, record from answer on, validate
- `harness`    drives agent processes, SIPp and dumpcap on loopback (tests and bench/bench_sip.py)
"""
