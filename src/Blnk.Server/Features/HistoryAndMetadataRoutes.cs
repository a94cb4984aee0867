using Blnk.Server.Features.History;
using Blnk.Server.Features.Metadata;
using Blnk.Server.Features.Recovery;

namespace Blnk.Server.Features;

/// <summary>
/// The routes of historical balances and snapshots, metadata updates and queue recovery, mapped with one
/// call from Program.cs.
/// </summary>
public static class HistoryAndMetadataRoutes
{
    public static void MapHistoryAndMetadataEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapBalanceHistoryEndpoints();
        routes.MapMetadataEndpoints();
        routes.MapQueueRecoveryEndpoints();
    }
}
