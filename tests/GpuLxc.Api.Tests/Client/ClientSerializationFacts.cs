using System.Net;
using System.Text;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Client;

public sealed class ClientSerializationFacts
{
    [Fact]
    public async Task AttachGpuAsync_SendsEnumsAsTheContractSpellsThem_WhenTheyAreSet()
    {
        var sent = new CapturingHandler("""{"attachment":{"containerId":"101"},"changed":false,"dryRun":true,"restartRequired":false,"restarted":false,"added":[],"removed":[],"diff":"","warnings":[],"handMadeLines":[]}""");
        var client = new GpuLxcClient(new HttpClient(sent) { BaseAddress = new Uri("http://gpulxc.invalid") });

        await client.AttachGpuAsync("101", new AttachRequest
        {
            Mode = AttachmentMode.Raw,
            Userspace = UserspaceSource.Host,
            Capabilities = [DriverCapability.Utility, DriverCapability.Compute],
        }, dryRun: true);

        Assert.Contains("\"mode\":\"raw\"", sent.Body, StringComparison.Ordinal);
        Assert.Contains("\"userspace\":\"host\"", sent.Body, StringComparison.Ordinal);
        Assert.Contains("\"capabilities\":[\"utility\",\"compute\"]", sent.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListJobsAsync_SendsTheDeclaredEnumNames_WhenFilteringByStateAndKind()
    {
        var sent = new CapturingHandler("[]");
        var client = new GpuLxcClient(new HttpClient(sent) { BaseAddress = new Uri("http://gpulxc.invalid") });

        await client.ListJobsAsync(state: JobState.Failed, kind: JobKind.GuestDriverInstall);

        Assert.Equal("?state=failed&kind=guestDriverInstall", sent.Uri?.Query);
    }

    [Fact]
    public void ProblemDetails_SerializesEachMemberOnceAsTheServiceSentIt_WhenItHasExtensions()
    {
        const string sent = """{"type":"urn:gpulxc:problem:invalid-request","title":"The request is not valid.","status":400,"fix":"Use 1-1000.","traceId":"00-ab","errors":{"limit":["limit must be 1-1000."]}}""";
        var problem = System.Text.Json.JsonSerializer.Deserialize<ProblemDetails>(sent)!;

        var written = System.Text.Json.JsonSerializer.Serialize(problem);

        Assert.Equal("Use 1-1000.", problem.Fix);
        Assert.Equal(["limit must be 1-1000."], problem.Errors["limit"]);
        Assert.DoesNotContain("\"Fix\"", written, StringComparison.Ordinal);
        Assert.DoesNotContain("\"Errors\"", written, StringComparison.Ordinal);
        Assert.DoesNotContain("\"TraceId\"", written, StringComparison.Ordinal);
        Assert.Equal(1, CountOf(written, "\"fix\""));
    }

    private static int CountOf(string text, string part) => (text.Length - text.Replace(part, "", StringComparison.Ordinal).Length) / part.Length;

    private sealed class CapturingHandler(string answer) : HttpMessageHandler
    {
        public string Body { get; private set; } = "";

        public Uri? Uri { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Uri = request.RequestUri;
            Body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(answer, Encoding.UTF8, "application/json") };
        }
    }
}
