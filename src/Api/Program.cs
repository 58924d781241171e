using GpuLxc.Api.Attachments;
using GpuLxc.Api.Auth;
using GpuLxc.Api.Containers;
using GpuLxc.Api.Diagnostics;
using GpuLxc.Api.Drivers;
using GpuLxc.Api.Events;
using GpuLxc.Api.Guardian;
using GpuLxc.Api.Health;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Inventory;
using GpuLxc.Api.Jobs;
using GpuLxc.Api.Jobs.Hosting;
using GpuLxc.Api.Metrics;
using GpuLxc.Api.Nvenc;
using GpuLxc.Api.Usage;

// Settings files sit beside the binary; the working directory is only where ./data goes by default.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.UseGpuLxcDefaults();
builder.Services.AddGpuLxcCore(builder.Configuration);
builder.Services.AddEvents();
builder.Services.AddApiProblems();
builder.Services.AddApiJson();
builder.Services.AddApiDocumentation();
builder.Services.AddApiKeyAuthentication(builder.Configuration);
builder.Services.AddHostAccess(builder.Configuration);
builder.Services.AddHostInfo();
builder.Services.AddInventory();
builder.Services.AddDiagnostics();
builder.Services.AddContainers();
builder.Services.AddNvenc();
builder.Services.AddUsage();
builder.Services.AddMetricsEndpoint();
builder.Services.AddHealth();
builder.Services.AddJobs();
builder.Services.AddDrivers();
builder.Services.AddGuardian();
builder.Services.AddJobHosting(builder.Configuration);

var app = builder.Build();

app.UseApiProblems();
app.UseApiDocumentation();
app.UseAuthentication();
app.UseAuthorization();

app.MapHealth();
app.MapMetricsEndpoint();
app.MapJobDashboard();

var api = app.MapApiV1();
api.MapHost();
api.MapInventory();
api.MapDiagnostics();
api.MapContainers();
api.MapAttachments();
api.MapNvenc();
api.MapJobs();
api.MapEvents();

return await app.RunUntilStoppedAsync();
