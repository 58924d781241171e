using System.Text.Json;
using GpuLxc.Client;
using Spectre.Console;

namespace GpuLxc.Cli;

/// <summary>How answers are shown: JSON as the service writes it, or Spectre.Console tables and colours.</summary>
public static class Output
{
    /// <summary>The contract's spelling (camelCase names and enum values), indented.</summary>
    public static readonly JsonSerializerOptions Indented = new(GpuLxcClient.ContractJsonOptions) { WriteIndented = true };

    /// <summary>Writes <paramref name="value"/> as JSON on stdout, unwrapped by markup or line width.</summary>
    public static void WriteJson<T>(this CommandContext context, T value) =>
        context.Out.Profile.Out.Writer.WriteLine(JsonSerializer.Serialize(value, Indented));

    /// <summary>An enum value as the contract spells it (<c>inSync</c>, <c>hostDriverInstall</c>).</summary>
    public static string Name<T>(T value)
        where T : struct, Enum => JsonSerializer.Serialize(value, Indented).Trim('"');

    public static string Name<T>(T? value)
        where T : struct, Enum => value is { } set ? Name(set) : "";

    /// <summary>A two-column table of names and values, for one object.</summary>
    public static Table Facts(params (string Name, string? Value)[] rows)
    {
        var table = new Table().Border(TableBorder.Rounded).HideHeaders().AddColumn("").AddColumn("");
        foreach (var (name, value) in rows)
        {
            table.AddRow(new Markup($"[grey]{Markup.Escape(name)}[/]"), new Text(value ?? "—"));
        }

        return table;
    }

    public static string Colour(CheckStatus status) => status switch
    {
        CheckStatus.Pass => "green",
        CheckStatus.Warn => "yellow",
        CheckStatus.Fail => "red",
        _ => "grey",
    };

    public static string Colour(JobState state) => state switch
    {
        JobState.Succeeded => "green",
        JobState.Failed => "red",
        JobState.Cancelled => "yellow",
        JobState.Running => "blue",
        _ => "grey",
    };

    public static string Colour(JobStepState state) => state switch
    {
        JobStepState.Succeeded => "green",
        JobStepState.Failed => "red",
        JobStepState.Cancelled => "yellow",
        JobStepState.Running => "blue",
        _ => "grey",
    };

    public static string YesNo(bool? value) => value switch { true => "yes", false => "no", null => "—" };
}
