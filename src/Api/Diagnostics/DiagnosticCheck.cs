using GpuLxc.Api.Containers.Config;

namespace GpuLxc.Api.Diagnostics;

public enum CheckStatus
{
    Pass,
    Warn,
    Fail,
    Skip,
}

/// <summary>One diagnostic check.</summary>
/// <param name="Id">Stable identifier, e.g. <c>device-node-majors</c>.</param>
/// <param name="Title">What is checked.</param>
/// <param name="Status"><c>pass</c>, <c>warn</c>, <c>fail</c>, or <c>skip</c> when it does not apply.</param>
/// <param name="Detail">What was found.</param>
/// <param name="Fix">What to do about it; null when nothing is to be done.</param>
/// <param name="Findings">For checks that read files line by line (container configs, udev rules): one entry per problem,
/// naming the file, the line and its fix; null for the other checks.</param>
public sealed record DiagnosticCheck(string Id, string Title, CheckStatus Status, string Detail, string? Fix, IReadOnlyList<ConfigFinding>? Findings = null);

/// <summary>The host's diagnostics.</summary>
/// <param name="Status">The worst status of the checks.</param>
/// <param name="Checks">Every check, in a fixed order.</param>
public sealed record DiagnosticsReport(CheckStatus Status, IReadOnlyList<DiagnosticCheck> Checks);
