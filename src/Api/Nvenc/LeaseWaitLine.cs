namespace GpuLxc.Api.Nvenc;

/// <summary>
/// Requests waiting for a slot, first come first served per budget. Only the head of a budget's line tries to
/// acquire; it is woken when a slot may have freed (release, expiry) and polls at <see cref="PollInterval"/> for
/// what no event announces (sessions ending outside any lease). The wait's deadline is on the service's clock, so a
/// test clock decides when it ends; the poll itself is real time.
/// </summary>
public sealed class LeaseWaitLine(TimeProvider time)
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, LinkedList<Waiter>> _lines = new(StringComparer.Ordinal);

    /// <summary>Whether anyone is waiting for <paramref name="budget"/> (newcomers that will not wait must not jump the line).</summary>
    public bool HasWaiters(string budget)
    {
        lock (_gate)
        {
            return _lines.TryGetValue(budget, out var line) && line.Count > 0;
        }
    }

    /// <summary>Waits in line for <paramref name="budget"/> until <paramref name="tryAcquire"/> succeeds at the head, or the wait ends.</summary>
    public async Task<T?> WaitAsync<T>(string budget, TimeSpan wait, Func<CancellationToken, Task<T?>> tryAcquire, CancellationToken cancellationToken)
        where T : class
    {
        var waiter = new Waiter();
        LinkedListNode<Waiter> node;
        lock (_gate)
        {
            if (!_lines.TryGetValue(budget, out var line))
            {
                _lines[budget] = line = new LinkedList<Waiter>();
            }

            node = line.AddLast(waiter);
        }

        var deadline = time.GetUtcNow() + wait;
        try
        {
            while (true)
            {
                if (IsHead(budget, node) && await tryAcquire(cancellationToken) is { } acquired)
                {
                    return acquired;
                }

                var remaining = deadline - time.GetUtcNow();
                if (remaining <= TimeSpan.Zero)
                {
                    return null;
                }

                await waiter.Wake.WaitAsync(remaining < PollInterval ? remaining : PollInterval, cancellationToken);
            }
        }
        finally
        {
            lock (_gate)
            {
                var line = _lines[budget];
                line.Remove(node);
                if (line.Count == 0)
                {
                    _lines.Remove(budget);
                }
                else
                {
                    line.First!.Value.Signal();
                }
            }

            waiter.Dispose();
        }
    }

    /// <summary>A slot of <paramref name="budget"/> may have freed: wake the head of its line.</summary>
    public void SlotFreed(string budget)
    {
        lock (_gate)
        {
            if (_lines.TryGetValue(budget, out var line) && line.First is { } head)
            {
                head.Value.Signal();
            }
        }
    }

    /// <summary>Wakes the head of every line (after expired leases were reaped).</summary>
    public void SlotsFreed()
    {
        lock (_gate)
        {
            foreach (var line in _lines.Values)
            {
                line.First?.Value.Signal();
            }
        }
    }

    private bool IsHead(string budget, LinkedListNode<Waiter> node)
    {
        lock (_gate)
        {
            return _lines[budget].First == node;
        }
    }

    private sealed class Waiter : IDisposable
    {
        public SemaphoreSlim Wake { get; } = new(0, 1);

        /// <summary>Called under the line's lock, so the check and the release cannot race another signal.</summary>
        public void Signal()
        {
            if (Wake.CurrentCount == 0)
            {
                Wake.Release();
            }
        }

        public void Dispose() => Wake.Dispose();
    }
}
