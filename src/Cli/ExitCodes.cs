namespace GpuLxc.Cli;

/// <summary>What <c>gpulxc</c> exits with; README and <c>--help</c> list them.</summary>
public static class ExitCodes
{
    /// <summary>Done; a job followed to the end succeeded; <c>doctor</c> found no failing check.</summary>
    public const int Ok = 0;

    /// <summary>A failure: a job failed or was cancelled, <c>doctor</c> found a failing check, the service could not be reached or answered an error not below.</summary>
    public const int Failure = 1;

    /// <summary>Usage: unknown command or option, a bad value (also the service's 400), no URL or key configured.</summary>
    public const int Usage = 2;

    /// <summary>Conflict: the service refused because of the target's state (409), a stale <c>--if-match</c> (412), a full NVENC budget (429).</summary>
    public const int Conflict = 3;

    /// <summary>Not found: no such container, GPU, job or lease (404).</summary>
    public const int NotFound = 4;

    /// <summary>Authentication: no key, an unknown key (401) or a key without the scope (403).</summary>
    public const int Unauthorized = 5;

    /// <summary>Interrupted with Ctrl-C while following a job (the job was cancelled only if you said so).</summary>
    public const int Interrupted = 130;

    /// <summary>The exit code for a status the service answered with.</summary>
    public static int ForStatus(int status) => status switch
    {
        400 or 413 or 422 => Usage,
        401 or 403 => Unauthorized,
        404 => NotFound,
        409 or 412 or 429 => Conflict,
        _ => Failure,
    };

    public const string Help = "Exit codes: 0 ok, 1 failure (a job failed, doctor found a failing check, the service is unreachable), " +
                               "2 usage (also the service's 400, no URL or key configured), 3 conflict (409, 412, 429), 4 not found (404), " +
                               "5 not authorised (401, 403), 130 interrupted by Ctrl-C.";
}
