using FluentValidation;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Guardian;

/// <summary>Registration of the upgrade guardian: its validated options, the observer, the repairs, the build job and the checks.</summary>
public static class GuardianServices
{
    public static IServiceCollection AddGuardian(this IServiceCollection services)
    {
        services.AddOptions<GuardianOptions>().BindConfiguration(GuardianOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GuardianOptions>, GuardianOptionsValidator>());
        services.AddSingleton<HostObserver>();
        services.AddSingleton<GuardianRepairs>();
        services.AddSingleton<GuardianChecks>();
        services.AddSingleton<InstallCompatibility>();
        services.AddSingleton<UpgradeGuardian>();
        services.AddHostedService(sp => sp.GetRequiredService<UpgradeGuardian>());
        services.AddSingleton<Jobs.IJobWork, KernelModuleBuildWork>();
        services.AddSingleton<IValidator<KernelModuleBuildRequest>, KernelModuleBuildRequestValidator>();
        return services;
    }
}
