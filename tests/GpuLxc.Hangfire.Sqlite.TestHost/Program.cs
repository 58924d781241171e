using GpuLxc.Hangfire.Sqlite;
using GpuLxc.Hangfire.Sqlite.TestHost;
using Hangfire;

// A job server in its own process, for the restart test: `serve <db> <markers>` works the "restart" queue until
// killed or until stdin closes; `enqueue <db> <markers>` enqueues one MarkerJob.
if (args.Length != 3 || args[0] is not ("serve" or "enqueue"))
{
    await Console.Error.WriteLineAsync("usage: GpuLxc.Hangfire.Sqlite.TestHost serve|enqueue <database> <marker-directory>");
    return 2;
}

var storage = new SqliteStorage(args[1], new SqliteStorageOptions
{
    InvisibilityTimeout = TimeSpan.FromSeconds(2),
    QueuePollInterval = TimeSpan.FromMilliseconds(200),
    DistributedLockLifetime = TimeSpan.FromSeconds(2),
});
GlobalConfiguration.Configuration.UseSimpleAssemblyNameTypeSerializer().UseRecommendedSerializerSettings();

if (args[0] == "enqueue")
{
    var id = new BackgroundJobClient(storage).Create(() => MarkerJob.Run(args[2]), new Hangfire.States.EnqueuedState("restart"));
    Console.WriteLine(id);
    return 0;
}

using var server = new BackgroundJobServer(
    new BackgroundJobServerOptions { Queues = ["restart"], WorkerCount = 2, ServerName = $"testhost-{Environment.ProcessId}" },
    storage);
Console.WriteLine("serving");
// The test stops a server it wants gone gracefully by closing stdin; it kills the one it wants dead.
await Console.In.ReadToEndAsync();
return 0;
