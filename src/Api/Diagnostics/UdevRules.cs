using System.Text;
using GpuLxc.Api.Containers.Config;

namespace GpuLxc.Api.Diagnostics;

/// <summary>One rule of a udev rules file, as udev reads it.</summary>
/// <param name="File">The rules file's host path.</param>
/// <param name="Line">The number of the rule's first line, from 1.</param>
/// <param name="Text">The rule's text (continuation lines joined).</param>
/// <param name="Pairs">Its key–operator–value pairs, in order; empty when <paramref name="Error"/> is set.</param>
/// <param name="Error">Why udev rejects the rule (it ignores the whole line); null when it parses.</param>
public sealed record UdevRule(string File, int Line, string Text, IReadOnlyList<(string Key, string Operator, string Value)> Pairs, string? Error)
{
    /// <summary>Whether the rule fires when the kernel module <paramref name="module"/> is added (its <c>KERNEL==</c> glob matches it).</summary>
    public bool Matches(string module) =>
        Error is null &&
        Pairs.Any(p => p.Key == "KERNEL" && p.Operator == "==" && Glob(p.Value, module)) &&
        !Pairs.Any(p => p.Key == "ACTION" && p.Operator == "==" && !Glob(p.Value, "add")) &&
        !Pairs.Any(p => p.Key == "KERNEL" && p.Operator == "!=" && Glob(p.Value, module));

    /// <summary>The programs of its <c>RUN</c> assignments: the first word, and for <c>sh -c '…'</c> each command of the script.</summary>
    public IEnumerable<string> Programs() =>
        Pairs.Where(p => p.Key == "RUN" && p.Operator is "+=" or "=" or ":=").SelectMany(p => ProgramsOf(p.Value));

    /// <summary>udev's glob: <c>*</c>, <c>?</c> and <c>|</c>-separated alternatives.</summary>
    private static bool Glob(string pattern, string value) =>
        pattern.Split('|').Any(alternative => System.IO.Enumeration.FileSystemName.MatchesSimpleExpression(alternative, value, ignoreCase: false));

    private static IEnumerable<string> ProgramsOf(string command)
    {
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0)
        {
            yield break;
        }

        yield return words[0];
        if (words.Length > 2 && Path.GetFileName(words[0]) is "sh" or "bash" or "dash" && words[1] == "-c")
        {
            var script = string.Join(' ', words[2..]).Trim('\'', '"');
            foreach (var part in script.Split(["&&", "||", ";", "|"], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (part.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() is { } program && !program.Contains('=', StringComparison.Ordinal))
                {
                    yield return program;
                }
            }
        }
    }
}

/// <summary>
/// Parses udev rules files the way udev does (issue 13, kind D): a rule per line, <c>\</c> continues it, <c>#</c>
/// starts a comment; each pair is <c>KEY[{attr}]</c>, an operator and a double-quoted value. A rule udev would reject —
/// an unterminated quote, an unquoted value, an unknown operator — is kept with its error, because udev ignores it.
/// </summary>
public static class UdevRuleParser
{
    private static readonly string[] Operators = ["==", "!=", "+=", "-=", ":=", "="];

    public static IReadOnlyList<UdevRule> Parse(string file, string text)
    {
        var rules = new List<UdevRule>();
        var physical = text.Split('\n');
        for (var i = 0; i < physical.Length; i++)
        {
            var first = i;
            var line = new StringBuilder(physical[i].TrimEnd('\r'));
            while (line.Length > 0 && line[^1] == '\\' && i + 1 < physical.Length)
            {
                line.Length--;
                line.Append(physical[++i].TrimEnd('\r'));
            }

            var rule = line.ToString().Trim();
            if (rule.Length == 0 || rule.StartsWith('#'))
            {
                continue;
            }

            rules.Add(ParseRule(file, first + 1, rule));
        }

        return rules;
    }

    private static UdevRule ParseRule(string file, int line, string text)
    {
        var pairs = new List<(string, string, string)>();
        var at = 0;
        while (true)
        {
            while (at < text.Length && (text[at] == ',' || char.IsWhiteSpace(text[at])))
            {
                at++;
            }

            if (at >= text.Length)
            {
                return new UdevRule(file, line, text, pairs, null);
            }

            var keyStart = at;
            while (at < text.Length && (char.IsAsciiLetterOrDigit(text[at]) || text[at] is '_' or '{' or '}' or '/' or '.' or '-' or '*'))
            {
                at++;
            }

            var key = text[keyStart..at];
            while (at < text.Length && char.IsWhiteSpace(text[at]))
            {
                at++;
            }

            var op = Operators.FirstOrDefault(o => string.CompareOrdinal(text, at, o, 0, o.Length) == 0);
            if (key.Length == 0 || op is null)
            {
                return Invalid(file, line, text, $"no key and operator at column {at + 1}");
            }

            at += op.Length;
            while (at < text.Length && char.IsWhiteSpace(text[at]))
            {
                at++;
            }

            if (at >= text.Length || text[at] != '"')
            {
                return Invalid(file, line, text, $"the value of {key} is not in double quotes");
            }

            var close = at + 1;
            while (close < text.Length && (text[close] != '"' || text[close - 1] == '\\'))
            {
                close++;
            }

            if (close >= text.Length)
            {
                return Invalid(file, line, text, $"the value of {key} has no closing double quote (unterminated quote)");
            }

            pairs.Add((key, op, text[(at + 1)..close]));
            at = close + 1;
        }
    }

    private static UdevRule Invalid(string file, int line, string text, string error) => new(file, line, text, [], error);
}

/// <summary>Whether the udev rules would create the device nodes containers need, tested rule by rule.</summary>
public static class UdevNodeRules
{
    /// <summary>The modules whose load must create nodes, and the nodes they stand for.</summary>
    private static readonly (string Module, string Nodes)[] Needed = [("nvidia", "/dev/nvidia0 and /dev/nvidiactl"), ("nvidia_uvm", "/dev/nvidia-uvm")];

    /// <summary>
    /// <c>pass</c> when for each of nvidia and nvidia_uvm a well-formed rule matches the module's add event and every
    /// program it runs exists (<paramref name="exists"/>); else <c>warn</c>, each broken NVIDIA rule a finding naming its
    /// file, line and what udev makes of it.
    /// </summary>
    public static DiagnosticCheck Check(IReadOnlyList<UdevRule> rules, Func<string, bool> exists)
    {
        const string Id = "udev-rule", Title = "A udev rule creates the device nodes";
        var findings = new List<ConfigFinding>();
        foreach (var rule in rules.Where(r => r.Error is not null && r.Text.Contains("nvidia", StringComparison.Ordinal)))
        {
            findings.Add(new ConfigFinding(rule.File, rule.Line, rule.Text, FindingSeverity.Fail,
                $"udev rejects this rule: {rule.Error}; it never runs.", "Repair the rule (close the quote, quote every value) and run `udevadm control --reload`."));
        }

        var working = new List<string>();
        var missing = new List<string>();
        foreach (var (module, nodes) in Needed)
        {
            var matching = rules.Where(r => r.Matches(module)).ToList();
            var good = matching.FirstOrDefault(r => r.Programs().Any() && r.Programs().All(exists));
            if (good is not null)
            {
                working.Add($"{module}: {good.File} line {good.Line}");
                continue;
            }

            missing.Add($"{module} ({nodes})");
            foreach (var rule in matching)
            {
                var absent = rule.Programs().Where(p => !exists(p)).ToList();
                findings.Add(new ConfigFinding(rule.File, rule.Line, rule.Text, FindingSeverity.Fail,
                    absent.Count > 0 ? $"The rule runs {string.Join(", ", absent)}, which does not exist on the host." : "The rule runs nothing.",
                    absent.Count > 0 ? $"Install {string.Join(", ", absent.Select(Path.GetFileName).Distinct())} or fix the path in the rule." : "Give the rule a RUN+= that creates the nodes."));
            }
        }

        if (missing.Count == 0)
        {
            return new DiagnosticCheck(Id, Title, CheckStatus.Pass, string.Join("; ", working), null);
        }

        var detail = $"No working udev rule creates the nodes of {string.Join(" and ", missing)}" +
                     (findings.Count > 0 ? ": " + string.Join("; ", findings.Select(f => $"{f.File} line {f.Line} `{f.Text}`: {f.Problem}")) : ": no rule matches the module.");
        var fix = findings.Count > 0
            ? string.Join(" ", findings.Select(f => $"{f.File} line {f.Line}: {f.Fix}").Distinct())
            : "Add /etc/udev/rules.d/70-nvidia.rules running `nvidia-smi -L` on KERNEL==\"nvidia\" and `nvidia-modprobe -c0 -u` on KERNEL==\"nvidia_uvm\" (the host driver install does this).";
        return new DiagnosticCheck(Id, Title, CheckStatus.Warn, detail, fix, findings);
    }
}
