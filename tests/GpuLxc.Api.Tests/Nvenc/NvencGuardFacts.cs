using System.Diagnostics.Metrics;
using GpuLxc.Api.Nvenc;
using GpuLxc.Api.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Nvenc;

public sealed class NvencGuardFacts
{
    [Fact]
    public async Task RandomAcquireRenewReleaseAndExpiry_NeverExceedTheBudget_FromManyClients()
    {
        const int Limit = 4, Clients = 16, OperationsPerClient = 700;
        var clock = new ManualTimeProvider();
        using var factory = NvencApiTests.Guarded(Limit, clock);
        factory.CreateClient().Dispose();
        var guard = factory.Services.GetRequiredService<NvencGuard>();
        var store = factory.Services.GetRequiredService<LeaseStore>();
        var operations = 0;
        var grants = 0;
        var worst = 0;

        async Task ClientAsync(int seed)
        {
            var random = new Random(seed);
            var mine = new List<string>();
            for (var i = 0; i < OperationsPerClient; i++)
            {
                switch (random.Next(10))
                {
                    case < 4:
                        var outcome = await guard.AcquireAsync(new LeaseRequest($"client-{seed}", TtlSeconds: random.Next(5, 40)), $"client-{seed}", CancellationToken.None);
                        if (outcome.Lease is { } lease)
                        {
                            mine.Add(lease.Id);
                            Interlocked.Increment(ref grants);
                        }

                        break;
                    case < 6 when mine.Count > 0:
                        await guard.RenewAsync(mine[random.Next(mine.Count)], random.Next(5, 40), $"client-{seed}", admin: false, CancellationToken.None);
                        break;
                    case < 8 when mine.Count > 0:
                        var index = random.Next(mine.Count);
                        await guard.ReleaseAsync(mine[index], $"client-{seed}", admin: false, CancellationToken.None);
                        mine.RemoveAt(index);
                        break;
                    case 8:
                        clock.Advance(TimeSpan.FromSeconds(random.Next(1, 15)));
                        break;
                    default:
                        await guard.ReapAsync(CancellationToken.None);
                        break;
                }

                Interlocked.Increment(ref operations);
                var active = (await store.ActiveAsync(CancellationToken.None)).Count;
                InterlockedMax(ref worst, active);
                Assert.True(active <= Limit, $"{active} leases active at once with a limit of {Limit}");
            }
        }

        await Task.WhenAll(Enumerable.Range(1, Clients).Select(seed => Task.Run(() => ClientAsync(seed))));

        Assert.True(operations >= 10_000);
        Assert.True(grants > Limit * 10, $"only {grants} grants: the run did not exercise reuse of slots");
        Assert.Equal(Limit, worst);
        Assert.InRange((await guard.StatusAsync(CancellationToken.None)).Budgets.Single().PeakLeases, 1, Limit);
    }

    [Fact]
    public async Task TheBudgetGaugesReportTheLastStatus()
    {
        using var factory = NvencApiTests.Guarded(limit: 3);
        factory.CreateClient().Dispose();
        var guard = factory.Services.GetRequiredService<NvencGuard>();
        await guard.AcquireAsync(new LeaseRequest("ffmpeg"), "test", CancellationToken.None);
        await guard.StatusAsync(CancellationToken.None);

        var values = new Dictionary<string, int>();
        var meters = factory.Services.GetRequiredService<IMeterFactory>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // Only this service's meter: other tests run services of their own in parallel.
            if (instrument.Meter.Name == NvencMetrics.MeterName && instrument.Meter.Scope == meters)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) =>
        {
            Assert.Equal("host", tags.ToArray().Single(t => t.Key == "budget").Value);
            values[instrument.Name] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal(3, values["limit"]);
        Assert.Equal(1, values["in_use"]);
        Assert.Equal(2, values["available"]);
        Assert.Equal(1, values["leases"]);
        Assert.Equal(0, values["observed"]);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
