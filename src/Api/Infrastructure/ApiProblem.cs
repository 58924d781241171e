namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// One kind of problem the API answers: its status, its RFC 9457 <c>type</c> and its title. Each feature keeps its
/// kinds in a catalogue (<c>ContainerProblems</c>, <c>JobProblems</c>, …) that is used both to throw them
/// (<see cref="With"/>) and to declare them on routes (<see cref="ApiProblems.Problems"/>), so that what a route
/// answers and what its contract says come from the same entries.
/// </summary>
/// <param name="Status">The HTTP status, e.g. 409.</param>
/// <param name="Type">A URI naming the kind, e.g. <c>urn:gpulxc:problem:job-conflict</c>: stable, for clients to switch on.</param>
/// <param name="Title">The same for every occurrence, e.g. <c>No such container.</c>; what differs goes in the detail.</param>
public sealed record ApiProblem(int Status, string Type, string Title)
{
    /// <summary>An occurrence of this problem, to throw.</summary>
    /// <param name="detail">What happened this time, e.g. <c>There is no container '555'</c>; null when the title says it all.</param>
    /// <param name="fix">What the caller can do about it, answered as the <c>fix</c> member.</param>
    public ProblemException With(string? detail, string? fix = null) => new(this, detail, fix);
}
