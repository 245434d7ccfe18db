"""Scale-out: scope tasks on a Dramatiq queue in Redis, executed by `graphinv worker` processes.

- `settings`: the `queue:` config section;
- `tasks`: the broker, the scope message, the per-scope lock, the actor a worker runs;
- `job`: the scheduler side (`graphinv scheduler start --distributed`): enqueue a job's scopes and
  wait for their results, so retries, ordering and alerts work as in-process;
- `worker`: the `graphinv worker` process.

See docs/scaling.md.
"""
