namespace GpuLxc.Api.Tests.Support;

public static class Repository
{
    /// <summary>The directory holding GpuLxc.sln, found from the test binaries upwards.</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Join(directory.FullName, "GpuLxc.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("GpuLxc.sln was not found above " + AppContext.BaseDirectory);
    }
}
