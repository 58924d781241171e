namespace GpuLxc.Api.Tests.Support;

/// <summary>
/// Real captures from a host with an NVIDIA H100 (Ubuntu 24.04, open kernel module 580.159.04), copied into
/// Fixtures/h100. <c>host-probe.txt</c> is a sequence of <c>### name</c> sections.
/// </summary>
public static class Captures
{
    public static string File(string name) => System.IO.File.ReadAllText(Path.Join(AppContext.BaseDirectory, "Fixtures", "h100", name));

    public static string H100Section(string name)
    {
        var lines = File("host-probe.txt").Split('\n');
        var start = Array.FindIndex(lines, line => line == $"### {name}");
        if (start < 0)
        {
            throw new InvalidOperationException($"host-probe.txt has no section '{name}'.");
        }

        return string.Join('\n', lines.Skip(start + 1).TakeWhile(line => !line.StartsWith("### ", StringComparison.Ordinal))) + "\n";
    }
}
