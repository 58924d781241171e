namespace GpuLxc.Cli;

internal static class Program
{
    public static Task<int> Main(string[] args) => GpuLxcCli.RunAsync(args, CliHost.FromProcess());
}
