using GpuLxc.Api.Hosts;

namespace GpuLxc.Api.Tests.Hosts;

public sealed class OsReleaseFacts
{
    [Fact]
    public void Parse_ReadsQuotedUnquotedAndEscapedValues_AndSkipsComments()
    {
        var values = OsRelease.Parse("""
            # comment
            NAME="Ubuntu"
            VERSION_ID="24.04"
            ID=ubuntu
            PRETTY_NAME="Ubuntu \"Noble\" 24.04"
            VARIANT='Server edition'

            NOT A PAIR
            """);

        Assert.Equal("Ubuntu", values["NAME"]);
        Assert.Equal("24.04", values["VERSION_ID"]);
        Assert.Equal("ubuntu", values["ID"]);
        Assert.Equal("Ubuntu \"Noble\" 24.04", values["PRETTY_NAME"]);
        Assert.Equal("Server edition", values["VARIANT"]);
        Assert.Equal(5, values.Count);
    }

    [Theory]
    [InlineData("pve-manager/8.2.4/faa83925c9641325 (running kernel: 6.8.8-2-pve)", "8.2.4")]
    [InlineData("pve-manager/7.4-17/513c62be (running kernel: 5.15.131-2-pve)", "7.4-17")]
    [InlineData("pve-manager/9.0.3/025864202ebb6109 (running kernel: 6.14.8-2-pve)\n", "9.0.3")]
    [InlineData("ipcc_send_rec[1] failed: Connection refused", null)]
    public void ParsePveVersion_ReadsThePveManagerVersion(string output, string? expected)
    {
        Assert.Equal(expected, HostInfoReader.ParsePveVersion(output));
    }
}
