using GpuLxc.Api.Nvenc;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Nvenc;

public sealed class LeaseStoreFacts
{
    private static readonly string?[] Holders = ["101", "102", null];

    [Fact]
    public async Task TryAcquireAsync_GrantsExactlyWhenInUseIsBelowTheLimit_ForRandomLeasesAndSessionsPerHolder()
    {
        using var factory = NvencApiTests.Guarded(limit: 3);
        factory.CreateClient().Dispose();
        var store = factory.Services.GetRequiredService<LeaseStore>();
        var random = new Random(13);
        var nothing = new ObservedUse(new Dictionary<string, int>(), 0);
        var (granted, refused) = (0, 0);

        for (var trial = 0; trial < 300; trial++)
        {
            // Each trial has a budget of its own, so it starts with no lease.
            var budget = $"trial-{trial}";
            var leases = Enumerable.Range(0, random.Next(0, 5)).Select(_ => Holders[random.Next(Holders.Length)]).ToList();
            foreach (var container in leases)
            {
                await store.TryAcquireAsync(budget, null, nothing, "setup", null, container, null, TimeSpan.FromMinutes(5), null, CancellationToken.None);
            }

            var observed = new ObservedUse(
                Holders.Where(_ => random.Next(2) == 0).ToDictionary(h => ObservedUse.HolderOf(h), _ => random.Next(0, 4)),
                random.Next(0, 2));
            var limit = random.Next(1, 9);
            var asking = Holders[random.Next(Holders.Length)];

            var (lease, _) = await store.TryAcquireAsync(budget, limit, observed, "asking", null, asking, null, TimeSpan.FromMinutes(5), null, CancellationToken.None);

            var expected = observed.InUse(leases) < limit;
            Assert.True(expected == lease is not null,
                $"trial {trial}: leases [{string.Join(',', leases.Select(l => l ?? "host"))}], sessions " +
                $"{{{string.Join(',', observed.ByHolder.Select(p => $"{(p.Key.Length == 0 ? "host" : p.Key)}:{p.Value}"))}}} + {observed.Unnamed} unnamed, " +
                $"limit {limit}, {asking ?? "host"} asked: expected {(expected ? "a grant" : "a refusal")}");
            (granted, refused) = lease is null ? (granted, refused + 1) : (granted + 1, refused);
        }

        Assert.True(granted > 50 && refused > 50, $"{granted} grants, {refused} refusals: the trials did not exercise both outcomes");
    }
}
