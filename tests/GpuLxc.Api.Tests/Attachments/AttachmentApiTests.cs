using System.Security.Cryptography;
using System.Text;
using GpuLxc.Api.Tests.Infrastructure;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Attachments;

public sealed class AttachmentApiTests
{
    private const string Config101 = "/etc/pve/lxc/101.conf";

    [Fact]
    public async Task AttachingOnProxmox8WritesSortedDevEntriesAndSaysARestartIsNeeded()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        var original = factory.Host.Bytes(Config101);

        var change = (await factory.CreateGpuLxcClient().AttachGpuAsync("101", new AttachRequest())).Result;

        var written = Encoding.UTF8.GetString(factory.Host.Bytes(Config101));
        Assert.True(change.Changed);
        Assert.True(change.RestartRequired);
        Assert.False(change.Restarted);
        Assert.Equal(AttachmentMode.Dev, change.Attachment!.Mode);
        Assert.Equal(["0000:01:00.0"], change.Attachment.Gpus);
        // The demo host's udev rule recreates nvidia0, nvidiactl and both uvm nodes at boot, but not modeset and the
        // caps: those are optional mounts, so that a reboot cannot stop the container from starting (issue 13, C).
        Assert.Contains("cores: 4\ndev0: /dev/nvidia-uvm,mode=0666\ndev1: /dev/nvidia-uvm-tools,mode=0666\ndev2: /dev/nvidia0,mode=0666\ndev3: /dev/nvidiactl,mode=0666\nfeatures: nesting=1\n", written, StringComparison.Ordinal);
        Assert.Contains("lxc.mount.entry: /dev/nvidia-modeset dev/nvidia-modeset none bind,optional,create=file", written, StringComparison.Ordinal);
        Assert.Contains("lxc.cgroup2.devices.allow: c 511:1 rwm", written, StringComparison.Ordinal);
        Assert.Equal(10, change.Added.Count);
        Assert.Equal(["/dev/nvidia-caps/nvidia-cap1", "/dev/nvidia-caps/nvidia-cap2", "/dev/nvidia-modeset"], change.Warnings.Select(w => w.Node));
        Assert.Contains("+dev0: /dev/nvidia-uvm,mode=0666", change.Diff, StringComparison.Ordinal);
        Assert.Contains(change.Attachment.DeviceNodes, n => n.Path == "/dev/nvidia-uvm" && n.Major == 509);
        Assert.Equal(original, Backups(factory, "101").Single());
    }

    [Fact]
    public async Task AttachingTwiceChangesNothingTheSecondTime()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync("101", new AttachRequest());
        var once = factory.Host.Bytes(Config101);

        var again = (await client.AttachGpuAsync("101", new AttachRequest())).Result;

        Assert.False(again.Changed);
        Assert.False(again.RestartRequired);
        Assert.Empty(again.Added);
        Assert.Empty(again.Removed);
        Assert.Equal(once, factory.Host.Bytes(Config101));
        Assert.Single(Backups(factory, "101"));
    }

    [Fact]
    public async Task TheETagIsTheSha1OfTheConfigAndIfMatchGuardsEdits()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        using var http = factory.CreateKeyedClient();
        var client = new GpuLxcClient(http);
        await client.AttachGpuAsync("101", new AttachRequest(), restart: false);
        using var get = await http.GetAsync(new Uri("/api/v1/containers/101/gpu", UriKind.Relative));
        var etag = get.Headers.ETag!.Tag;
        Assert.Equal($"\"{Convert.ToHexStringLower(SHA1.HashData(factory.Host.Bytes(Config101)))}\"", etag);

        var stale = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() =>
            client.DetachGpuAsync("101", if_Match: "\"0000000000000000000000000000000000000000\""));
        var detached = (await client.DetachGpuAsync("101", if_Match: etag)).Result;

        Assert.Equal(412, stale.StatusCode);
        Assert.True(detached.Changed);
    }

    [Fact]
    public async Task ADryRunReturnsThePlanAndTouchesNothing()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        var client = factory.CreateGpuLxcClient();
        var original = factory.Host.Bytes(Config101);

        var plan = (await client.AttachGpuAsync("101", new AttachRequest { Mode = AttachmentMode.Raw }, dryRun: true)).Result;

        Assert.True(plan.DryRun);
        Assert.True(plan.Changed);
        Assert.Contains("+lxc.cgroup2.devices.allow: c 509:* rwm", plan.Diff, StringComparison.Ordinal);
        Assert.Equal(original, factory.Host.Bytes(Config101));
        Assert.Empty(Backups(factory, "101"));
        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.GetAttachmentAsync("101"));
        Assert.Equal(404, error.StatusCode);
    }

    [Fact]
    public async Task DetachingRemovesExactlyWhatWasAddedAndKeepsLinesThatWereThereBefore()
    {
        const string Frigate = "arch: amd64\nhostname: frigate\nmemory: 2048\nlxc.cgroup.devices.allow: c 195:* rwm\nlxc.apparmor.profile: unconfined\n";
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve6().WithContainer("102", Frigate));
        var client = factory.CreateGpuLxcClient();

        var attached = (await client.AttachGpuAsync("102", new AttachRequest())).Result;
        var text = Encoding.UTF8.GetString(factory.Host.Bytes("/etc/pve/lxc/102.conf"));
        var detached = (await client.DetachGpuAsync("102")).Result;

        Assert.Equal(AttachmentMode.Raw, attached.Attachment!.Mode);
        Assert.Single(text.Split('\n'), line => line == "lxc.cgroup.devices.allow: c 195:* rwm");
        Assert.Contains("lxc.cgroup.devices.allow: c 243:* rwm", text, StringComparison.Ordinal);
        Assert.DoesNotContain(attached.Added, line => line.Contains("195:*", StringComparison.Ordinal));
        Assert.Equal(Frigate, Encoding.UTF8.GetString(factory.Host.Bytes("/etc/pve/lxc/102.conf")));
        Assert.Equal(attached.Added.Count, detached.Removed.Count);
    }

    public static TheoryData<string> RealConfigs() => new(ProxmoxConfigs.RealNames());

    [Theory]
    [MemberData(nameof(RealConfigs))]
    public async Task AttachThenDetachRestoresEveryRealConfigByteForByte(string name)
    {
        var bytes = ProxmoxConfigs.Real(name);
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve6().WithContainer("200", bytes));
        var client = factory.CreateGpuLxcClient();
        var locked = Encoding.UTF8.GetString(bytes).Split('\n').TakeWhile(l => !l.StartsWith('[')).Any(l => l.StartsWith("lock:", StringComparison.Ordinal));

        if (locked)
        {
            var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AttachGpuAsync("200", new AttachRequest()));
            Assert.Equal(409, error.StatusCode);
            Assert.Equal(bytes, factory.Host.Bytes("/etc/pve/lxc/200.conf"));
            return;
        }

        var attached = (await client.AttachGpuAsync("200", new AttachRequest())).Result;
        await client.DetachGpuAsync("200");

        Assert.True(attached.Changed);
        Assert.Equal(bytes, factory.Host.Bytes("/etc/pve/lxc/200.conf"));
    }

    public static TheoryData<string> OddConfigs() => new(ProxmoxConfigs.Odd.Keys);

    [Theory]
    [MemberData(nameof(OddConfigs))]
    public async Task AttachThenDetachRestoresEveryOddConfigByteForByte(string name)
    {
        var bytes = ProxmoxConfigs.Odd[name];
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8().WithContainer("300", bytes));
        var client = factory.CreateGpuLxcClient();

        await client.AttachGpuAsync("300", new AttachRequest { Mode = AttachmentMode.Raw });
        await client.AttachGpuAsync("300", new AttachRequest { Mode = AttachmentMode.Dev });
        await client.DetachGpuAsync("300");

        Assert.Equal(bytes, factory.Host.Bytes("/etc/pve/lxc/300.conf"));
    }

    [Fact]
    public async Task ALockedContainerIsAConflictAndIsNotTouched()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8().WithContainer("103", "arch: amd64\nhostname: busy\nlock: backup\n"));

        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => factory.CreateGpuLxcClient().AttachGpuAsync("103", new AttachRequest()));

        Assert.Equal(409, error.StatusCode);
        Assert.Contains("lock: backup", error.Result.Detail, StringComparison.Ordinal);
        Assert.Equal("arch: amd64\nhostname: busy\nlock: backup\n", Encoding.UTF8.GetString(factory.Host.Bytes("/etc/pve/lxc/103.conf")));
    }

    [Fact]
    public async Task MissingRequiredNodesAreAConflictWithTheFix()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8().Without("/dev/nvidia-uvm"));

        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => factory.CreateGpuLxcClient().AttachGpuAsync("101", new AttachRequest()));

        Assert.Equal(409, error.StatusCode);
        Assert.Contains("/dev/nvidia-uvm", error.Result.Detail, StringComparison.Ordinal);
        Assert.Contains("nvidia-modprobe", error.Result.AdditionalProperties["fix"].ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("99")]
    [InlineData("1000000000")]
    [InlineData("..%2F..%2Fetc%2Fshadow")]
    public async Task AContainerIdThatIsNotAVmidIsABadRequest(string containerId)
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        using var http = factory.CreateKeyedClient();

        using var response = await http.PutAsync(new Uri($"/api/v1/containers/{containerId}/gpu", UriKind.Relative),
            new StringContent("{}", Encoding.UTF8, "application/json"));

        await ProblemResponseTests.AssertProblemAsync(response, System.Net.HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task AnUnknownContainerIsNotFound()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());

        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => factory.CreateGpuLxcClient().AttachGpuAsync("555", new AttachRequest()));

        Assert.Equal(404, error.StatusCode);
    }

    [Fact]
    public async Task AnUnknownFieldInTheBodyIsABadRequest()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        using var http = factory.CreateKeyedClient();

        using var response = await http.PutAsync(new Uri("/api/v1/containers/101/gpu", UriKind.Relative),
            new StringContent("""{"gpu":["0"]}""", Encoding.UTF8, "application/json"));

        await ProblemResponseTests.AssertProblemAsync(response, System.Net.HttpStatusCode.BadRequest);
        Assert.Equal(ContainerHosts.Jellyfin.Length, factory.Host.Bytes(Config101).Length);
    }

    [Fact]
    public async Task RestartTrueRestartsARunningContainer()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());

        var change = (await factory.CreateGpuLxcClient().AttachGpuAsync("101", new AttachRequest(), restart: true)).Result;

        Assert.True(change.Restarted);
        Assert.False(change.RestartRequired);
        Assert.Equal("reboot 101\n", File.ReadAllText(factory.Host.PctLog));
    }

    [Fact]
    public async Task AStoppedContainerNeedsNoRestart()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());

        var change = (await factory.CreateGpuLxcClient().AttachGpuAsync("102", new AttachRequest(), restart: true)).Result;

        Assert.True(change.Changed);
        Assert.False(change.RestartRequired);
        Assert.False(change.Restarted);
        Assert.False(File.Exists(factory.Host.PctLog));
    }

    [Fact]
    public async Task DriftIsFlaggedWhenTheHostsMajorsChangeAndARePutMendsIt()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync("101", new AttachRequest { Mode = AttachmentMode.Raw });

        // A driver update: nvidia-uvm comes back on another major.
        factory.Host.Without("/dev/nvidia-uvm").Without("/dev/nvidia-uvm-tools")
            .WithCharDevice("/dev/nvidia-uvm", 237, 0).WithCharDevice("/dev/nvidia-uvm-tools", 237, 1)
            .WithFile("/proc/devices", File.ReadAllText(factory.Host.PathOf("/proc/devices")).Replace("509 nvidia-uvm", "237 nvidia-uvm", StringComparison.Ordinal));
        var drifted = Assert.Single(await client.ListAttachmentsAsync());
        var mended = (await client.AttachGpuAsync("101", new AttachRequest { Mode = AttachmentMode.Raw })).Result;
        var after = Assert.Single(await client.ListAttachmentsAsync());

        Assert.Equal(DriftStatus.HostChanged, drifted.Drift.Status);
        Assert.Contains("237:0", drifted.Drift.Detail, StringComparison.Ordinal);
        Assert.Contains("PUT", drifted.Drift.Fix, StringComparison.Ordinal);
        Assert.Contains("-lxc.cgroup2.devices.allow: c 509:* rwm", mended.Diff, StringComparison.Ordinal);
        Assert.Contains("+lxc.cgroup2.devices.allow: c 237:* rwm", mended.Diff, StringComparison.Ordinal);
        Assert.Equal(DriftStatus.InSync, after.Drift.Status);
    }

    [Fact]
    public async Task DriftIsFlaggedWhenALineIsEditedByHand()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync("101", new AttachRequest { Mode = AttachmentMode.Raw });
        var text = Encoding.UTF8.GetString(factory.Host.Bytes(Config101));
        factory.Host.WithFile(Config101, text.Replace("c 509:* rwm", "c 243:* rwm", StringComparison.Ordinal));

        var attachment = (await client.GetAttachmentAsync("101")).Result;
        var containers = await client.ListContainersAsync();

        Assert.Equal(DriftStatus.EditedByHand, attachment.Drift.Status);
        Assert.Contains("c 509:* rwm", attachment.Drift.Detail, StringComparison.Ordinal);
        Assert.False(attachment.Lines.Single(l => l.Value == "c 509:* rwm").Present);
        Assert.Equal(DriftStatus.EditedByHand, containers.Single(c => c.Id == "101").Attachment!.Drift);
    }

    [Fact]
    public async Task ContainersAreListedWithStatusPrivilegeAndAttachment()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync("101", new AttachRequest());

        var containers = (await client.ListContainersAsync()).ToDictionary(c => c.Id);
        var one = await client.GetContainerAsync("102");

        Assert.Equal(["101", "102"], containers.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(("jellyfin", ContainerStatus.Running, true), (containers["101"].Name, containers["101"].Status, containers["101"].Unprivileged));
        Assert.Equal(AttachmentMode.Dev, containers["101"].Attachment!.Mode);
        Assert.Null(containers["102"].Attachment);
        Assert.Equal(("frigate", ContainerStatus.Stopped, false), (one.Name, one.Status, one.Unprivileged));
    }

    [Fact]
    public async Task EveryEditIsAuditedWithTheKeyNameAndTheDiff()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        var client = factory.CreateGpuLxcClient(TestKeys.Admin);
        await client.AttachGpuAsync("102", new AttachRequest { Mode = AttachmentMode.Raw });
        await client.DetachGpuAsync("102");

        var store = (GpuLxc.Api.Attachments.AttachmentStore)factory.Services.GetService(typeof(GpuLxc.Api.Attachments.AttachmentStore))!;
        var audit = await store.AuditAsync("102", CancellationToken.None);

        Assert.Equal(["attach", "detach"], audit.Select(a => a.Action));
        Assert.All(audit, a => Assert.Equal("admin", a.KeyName));
        Assert.Contains("+lxc.cgroup2.devices.allow: c 509:* rwm", audit[0].Diff, StringComparison.Ordinal);
        Assert.Contains("-lxc.cgroup2.devices.allow: c 509:* rwm", audit[1].Diff, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DetachingWhatIsNotAttachedChangesNothing()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());

        var change = (await factory.CreateGpuLxcClient().DetachGpuAsync("102")).Result;

        Assert.False(change.Changed);
        Assert.Null(change.Attachment);
    }

    private static List<byte[]> Backups(GpuLxcApiFactory factory, string vmid)
    {
        var directory = Path.Join(factory.DataDir, "backups", "proxmox", vmid);
        return Directory.Exists(directory) ? Directory.GetFiles(directory).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList() : [];
    }
}
