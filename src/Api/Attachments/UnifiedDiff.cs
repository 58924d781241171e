using System.Text;

namespace GpuLxc.Api.Attachments;

/// <summary>A unified diff (<c>diff -u</c> format, three lines of context) between two versions of a file's lines.</summary>
public static class UnifiedDiff
{
    private const int Context = 3;

    public static string Create(string path, IReadOnlyList<string> before, IReadOnlyList<string> after)
    {
        var edits = Edits(before, after);
        if (edits.All(e => e.Kind == ' '))
        {
            return "";
        }

        var text = new StringBuilder().Append("--- a").Append(path).Append('\n').Append("+++ b").Append(path).Append('\n');
        var index = 0;
        while (index < edits.Count)
        {
            var firstChange = edits.FindIndex(index, e => e.Kind != ' ');
            if (firstChange < 0)
            {
                break;
            }

            var start = Math.Max(index, firstChange - Context);
            var end = firstChange;
            // Extend the hunk while the next change is within twice the context.
            for (var i = firstChange; i < edits.Count; i++)
            {
                if (edits[i].Kind != ' ')
                {
                    end = i;
                }
                else if (i - end > 2 * Context)
                {
                    break;
                }
            }

            end = Math.Min(edits.Count - 1, end + Context);
            var hunk = edits.GetRange(start, end - start + 1);
            var oldStart = edits.Take(start).Count(e => e.Kind != '+') + 1;
            var newStart = edits.Take(start).Count(e => e.Kind != '-') + 1;
            var oldCount = hunk.Count(e => e.Kind != '+');
            var newCount = hunk.Count(e => e.Kind != '-');
            text.Append("@@ -").Append(Range(oldStart, oldCount)).Append(" +").Append(Range(newStart, newCount)).Append(" @@\n");
            foreach (var edit in hunk)
            {
                text.Append(edit.Kind).Append(edit.Line).Append('\n');
            }

            index = end + 1;
        }

        return text.ToString();
    }

    private static string Range(int start, int count) => count == 1 ? $"{start}" : $"{(count == 0 ? start - 1 : start)},{count}";

    /// <summary>
    /// The longest-common-subsequence edit script. The common head and tail (most of a config, snapshots included) are
    /// matched first, so the quadratic table only spans the region that changed.
    /// </summary>
    private static List<(char Kind, string Line)> Edits(IReadOnlyList<string> before, IReadOnlyList<string> after)
    {
        var head = 0;
        while (head < before.Count && head < after.Count && before[head] == after[head])
        {
            head++;
        }

        var tail = 0;
        while (tail < before.Count - head && tail < after.Count - head && before[before.Count - 1 - tail] == after[after.Count - 1 - tail])
        {
            tail++;
        }

        var edits = before.Take(head).Select(line => (' ', line)).ToList();
        edits.AddRange(MiddleEdits(before.Skip(head).Take(before.Count - head - tail).ToList(), after.Skip(head).Take(after.Count - head - tail).ToList()));
        edits.AddRange(before.Skip(before.Count - tail).Select(line => (' ', line)));
        return edits;
    }

    private static List<(char Kind, string Line)> MiddleEdits(List<string> before, List<string> after)
    {
        var lengths = new int[before.Count + 1, after.Count + 1];
        for (var i = before.Count - 1; i >= 0; i--)
        {
            for (var j = after.Count - 1; j >= 0; j--)
            {
                lengths[i, j] = before[i] == after[j] ? lengths[i + 1, j + 1] + 1 : Math.Max(lengths[i + 1, j], lengths[i, j + 1]);
            }
        }

        var edits = new List<(char, string)>();
        int x = 0, y = 0;
        while (x < before.Count || y < after.Count)
        {
            if (x < before.Count && y < after.Count && before[x] == after[y])
            {
                edits.Add((' ', before[x++]));
                y++;
            }
            else if (x < before.Count && (y == after.Count || lengths[x + 1, y] >= lengths[x, y + 1]))
            {
                edits.Add(('-', before[x++]));
            }
            else
            {
                edits.Add(('+', after[y++]));
            }
        }

        return edits;
    }
}
