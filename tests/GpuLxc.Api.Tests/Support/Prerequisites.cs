namespace GpuLxc.Api.Tests.Support;

/// <summary>What some tests need of the machine besides the SDK: .ci/run provides each.</summary>
public enum Prerequisite
{
    /// <summary>A PostgreSQL to share (GPULXC_TEST_POSTGRES, a connection string; .ci/run starts one and sets it).</summary>
    Postgres,

    /// <summary>chromium, for the pages only a browser renders.</summary>
    Chromium,

    /// <summary>root, lxc and its busybox template, for real containers.</summary>
    RealLxc,
}

/// <summary>
/// Whether a test's prerequisite is here. Missing on a developer's machine, the test is reported Skipped with the
/// reason, never Passed; under CI (CI=true) it runs and fails, since there a missing prerequisite is a broken .ci/run.
/// </summary>
public static class Prerequisites
{
    /// <summary>What is missing, or null when the prerequisite is here.</summary>
    public static string? Missing(Prerequisite prerequisite) => prerequisite switch
    {
        Prerequisite.Postgres when string.IsNullOrEmpty(Environment.GetEnvironmentVariable("GPULXC_TEST_POSTGRES")) =>
            "GPULXC_TEST_POSTGRES is not set (.ci/run installs and starts PostgreSQL and sets it)",
        Prerequisite.Chromium when !File.Exists("/usr/bin/chromium") && !File.Exists("/usr/bin/chromium-browser") =>
            "chromium is not installed (apt-get install chromium; .ci/run does)",
        Prerequisite.RealLxc when Environment.UserName != "root" || !File.Exists("/usr/bin/lxc-create") || !File.Exists("/usr/share/lxc/templates/lxc-busybox") =>
            "real containers need root, lxc and busybox-static (apt-get install lxc busybox-static; .ci/run does)",
        _ => null,
    };

    /// <summary>The reason to skip: what is missing, outside CI only.</summary>
    public static string? SkipReason(Prerequisite prerequisite) =>
        string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase) || Missing(prerequisite) is not { } missing
            ? null
            : $"{missing}; under CI=true this test fails instead.";
}

/// <summary>A fact that needs <see cref="Prerequisite"/>: Skipped with the reason when it is missing outside CI.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RequiresFactAttribute : FactAttribute
{
    public RequiresFactAttribute(Prerequisite prerequisite) => Skip = Prerequisites.SkipReason(prerequisite);
}

/// <summary>A theory that needs <see cref="Prerequisite"/>: Skipped with the reason when it is missing outside CI.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RequiresTheoryAttribute : TheoryAttribute
{
    public RequiresTheoryAttribute(Prerequisite prerequisite) => Skip = Prerequisites.SkipReason(prerequisite);
}
