using GpuLxc.Api.Diagnostics;

namespace GpuLxc.Api.Tests.Diagnostics;

public sealed class UdevRuleParserFacts
{
    [Fact]
    public void Parse_KeepsTheRuleWithItsError_WhenAValueHasNoClosingQuote()
    {
        var rule = Assert.Single(UdevRuleParser.Parse("/r", "KERNEL==\"nvidia_uvm\", RUN+=\"/usr/bin/nvidia-modprobe -c0 -u\n"));

        Assert.Contains("unterminated quote", rule.Error, StringComparison.Ordinal);
        Assert.False(rule.Matches("nvidia_uvm"));
    }

    [Fact]
    public void Parse_RejectsTheRule_WhenAValueIsNotQuoted()
    {
        var rule = Assert.Single(UdevRuleParser.Parse("/r", "KERNEL==nvidia, RUN+=\"/usr/bin/nvidia-smi -L\"\n"));

        Assert.Contains("not in double quotes", rule.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_JoinsContinuationLinesAndSkipsComments_WhenTheRuleSpansLines()
    {
        var rules = UdevRuleParser.Parse("/r", "# a comment\nACTION==\"add\", \\\n  KERNEL==\"nvidia\", RUN+=\"/bin/sh -c '/usr/bin/nvidia-smi -L && /bin/chmod 666 /dev/nvidia*'\"\n");

        var rule = Assert.Single(rules);
        Assert.Equal(2, rule.Line);
        Assert.True(rule.Matches("nvidia"));
        Assert.False(rule.Matches("nvidia_uvm"));
        Assert.Equal(["/bin/sh", "/usr/bin/nvidia-smi", "/bin/chmod"], rule.Programs());
    }

    [Fact]
    public void Matches_IsFalse_WhenTheRuleIsForRemoval()
    {
        var rule = Assert.Single(UdevRuleParser.Parse("/r", "ACTION==\"remove\", KERNEL==\"nvidia*\", RUN+=\"/bin/true\"\n"));

        Assert.False(rule.Matches("nvidia"));
    }
}
