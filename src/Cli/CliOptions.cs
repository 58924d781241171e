using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace GpuLxc.Cli;

/// <summary>
/// Options whose values are read the way the API names them, and refused in its words: an enum value by its camelCase
/// name (any letter case is accepted), a number within its range. The parser's own refusals name .NET types
/// (<c>System.Nullable`1[System.Int32]</c>) and suggest PascalCase names the service would refuse.
/// </summary>
internal static class CliOptions
{
    /// <summary>One value of <typeparamref name="T"/>; help lists the values it takes, as the API names them.</summary>
    /// <param name="name">The option, e.g. <c>--kind</c>.</param>
    /// <param name="noun">What a value is, for the refusal: "a job kind".</param>
    /// <param name="description">What the option does.</param>
    public static Option<T?> Choice<T>(string name, string noun, string description)
        where T : struct, Enum
    {
        var option = new Option<T?>(name) { Description = description };
        option.CustomParser = result => ParseChoice<T>(result, result.Tokens[0].Value, name, noun);
        option.CompletionSources.Clear();
        option.CompletionSources.Add(Names<T>());
        return option;
    }

    /// <summary>Values of <typeparamref name="T"/>, the option repeated for more than one.</summary>
    public static Option<T[]> Choices<T>(string name, string noun, string description)
        where T : struct, Enum
    {
        var option = new Option<T[]>(name) { Description = description + "; repeat for more", AllowMultipleArgumentsPerToken = false };
        option.CustomParser = result => [.. result.Tokens.Select(token => ParseChoice<T>(result, token.Value, name, noun) ?? default)];
        option.CompletionSources.Clear();
        option.CompletionSources.Add(Names<T>());
        return option;
    }

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>; absent: null.</summary>
    public static Option<T?> Number<T>(string name, string description, T min, T max)
        where T : struct, IBinaryInteger<T>, IMinMaxValue<T>
    {
        var option = new Option<T?>(name) { Description = description };
        option.CustomParser = result =>
        {
            var text = result.Tokens[0].Value;
            if (T.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
            {
                return value;
            }

            result.AddError($"{name}: '{text}' is not a whole number from {min} to {max}.");
            return null;
        };
        return option;
    }

    private static string[] Names<T>()
        where T : struct, Enum => [.. Enum.GetValues<T>().Select(value => Output.Name(value))];

    private static T? ParseChoice<T>(ArgumentResult result, string text, string name, string noun)
        where T : struct, Enum
    {
        foreach (var value in Enum.GetValues<T>())
        {
            if (string.Equals(Output.Name(value), text, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        result.AddError($"{name}: '{text}' is not {noun}; use one of {string.Join(", ", Names<T>())}.");
        return null;
    }
}
