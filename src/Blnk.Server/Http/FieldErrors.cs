namespace Blnk.Server.Http;

/// <summary>
/// Validation problems by field, in Blnk's message form: <c>field: problem; field: problem.</c> (sorted by field).
/// </summary>
public static class FieldErrors
{
    public const string Blank = "cannot be blank";

    /// <summary>Records a problem when <paramref name="value"/> is blank or longer than <paramref name="lengthMax"/>.</summary>
    public static void Require(SortedDictionary<string, string> errors, string key, string? value, int lengthMax)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            errors[key] = Blank;
        }
        else if (value.Length > lengthMax)
        {
            errors[key] = $"the length must be no more than {lengthMax}";
        }
    }

    public static string Message(SortedDictionary<string, string> errors) =>
        string.Join("; ", errors.Select(error => $"{error.Key}: {error.Value}")) + ".";
}
