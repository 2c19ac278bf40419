-- pgbench: the conditional UPDATE of make bench's postgres rows, the
-- database's own side of cas.lua. Client c cycles over its own keys
-- c + clients * i (i below per), so that no key is in flight twice, and
-- expects the version that its last pass over the key wrote: every UPDATE
-- matches unless another writer came between (run.py counts the versions
-- after the run). -D gives clients, per, v (the value) and n = 0; pgbench
-- keeps a client's variables from one transaction to the next.
\set i :n % :per
\set k :client_id + :clients * :i
\set ver 1 + :n / :per
UPDATE kv SET value = :v, version = version + 1 WHERE key = :k AND version = :ver;
\set n :n + 1
