using Hangfire.Logging;
using Hangfire.Storage;

namespace GpuLxc.Hangfire.Sqlite;

/// <summary>
/// A job taken from a queue. The queue row is fenced by the fetch timestamp: removing, requeueing and renewing only
/// touch the row while it still carries this fetch's stamp, so a worker that lost the job (its invisibility lapsed
/// and another worker took it) can never remove or requeue the other worker's fetch. While the job runs, a timer
/// slides the stamp forward; disposing without removal puts the job back.
/// </summary>
internal sealed class SqliteFetchedJob : IFetchedJob
{
    private static readonly ILog Log = LogProvider.GetLogger(typeof(SqliteFetchedJob));

    private readonly SqliteDatabase _database;
    private readonly Lock _sync = new();
    private readonly ITimer _keepAlive;
    private long _fetchedAt;
    private bool _completed;
    private bool _acknowledging;

    public SqliteFetchedJob(SqliteDatabase database, long queueId, long jobId, string queue, long fetchedAt)
    {
        _database = database;
        QueueId = queueId;
        JobId = jobId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Queue = queue;
        _fetchedAt = fetchedAt;
        var period = database.Options.InvisibilityTimeout / 5;
        _keepAlive = database.Options.TimeProvider.CreateTimer(_ => KeepAlive(), null, period, period);
    }

    public long QueueId { get; }

    public string JobId { get; }

    public string Queue { get; }

    /// <summary>The stamp this fetch holds now (it slides forward with every keep-alive).</summary>
    public long FetchedAt
    {
        get
        {
            lock (_sync)
            {
                return _fetchedAt;
            }
        }
    }

    /// <summary>False once another worker took the job over: this worker's result will not be acknowledged.</summary>
    public bool Owned { get; private set; } = true;

    public void RemoveFromQueue() => Complete(remove: true);

    public void Requeue() => Complete(remove: false);

    public void Dispose()
    {
        // A worker that stops (shutdown, crash of the job's code path) without acknowledging hands the job back.
        Complete(remove: false);
        _keepAlive.Dispose();
    }

    /// <summary>
    /// Start of a transactional acknowledgement: stops the keep-alive from moving the stamp and returns the stamp the
    /// transaction fences its delete with.
    /// </summary>
    internal long BeginAcknowledge()
    {
        lock (_sync)
        {
            _acknowledging = true;
            return _fetchedAt;
        }
    }

    internal void EndAcknowledge(bool committed)
    {
        lock (_sync)
        {
            _acknowledging = false;
            _completed |= committed;
        }

        if (committed)
        {
            _keepAlive.Dispose();
        }
    }

    internal void KeepAlive()
    {
        lock (_sync)
        {
            if (_completed || _acknowledging || !Owned)
            {
                return;
            }

            try
            {
                var stamp = Math.Max(_database.Now, _fetchedAt + 1);
                var renewed = _database.Write(connection => connection.Execute(
                    "UPDATE JobQueue SET FetchedAt = $stamp WHERE Id = $id AND FetchedAt = $fetchedAt",
                    ("$stamp", stamp), ("$id", QueueId), ("$fetchedAt", _fetchedAt)));
                if (renewed == 1)
                {
                    _fetchedAt = stamp;
                }
                else
                {
                    Owned = false;
                    Log.Warn($"Job {JobId} from queue '{Queue}' is no longer held by this worker: its invisibility timeout lapsed and it was fetched again or removed.");
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A timer callback must not throw (it would end the process): the next tick tries again, and the
            // invisibility timeout is five ticks long.
                Log.WarnException($"Could not renew the fetch of job {JobId}.", e);
            }
        }
    }

    private void Complete(bool remove)
    {
        lock (_sync)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            if (Owned)
            {
                _database.Write(connection => connection.Execute(
                    remove
                        ? "DELETE FROM JobQueue WHERE Id = $id AND FetchedAt = $fetchedAt"
                        : "UPDATE JobQueue SET FetchedAt = NULL WHERE Id = $id AND FetchedAt = $fetchedAt",
                    ("$id", QueueId), ("$fetchedAt", _fetchedAt)));
            }
        }

        _keepAlive.Dispose();
    }
}
