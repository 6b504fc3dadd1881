/**
 * Opportunity stage moves: `GET /v2/opportunities/stageMoves` and `GET /v2/opportunities/stageMoves/{stage_move_id}`.
 * `recordStageMove` is called by `PATCH /v2/opportunities/{id}` when the stage changes; the seed gives every seeded
 * opportunity past its first stage one move into its current stage (no PRNG draw).
 */
import { notFound } from '../core/errors.js';
import { listV2 } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest, SbResponse, SbRoute } from '../core/types.js';
import { idStr, iso } from '../core/util.js';
import { pathId } from '../core/validate.js';

export const STAGE_MOVES = 'opportunity_stage_moves';

export interface StageMoveRow {
  id: number;
  opportunity_id: number;
  move_time: string;
  move_from_stage_id: number;
  move_to_stage_id: number;
  prev_stage_move_time?: string;
  user_id: number;
  created_by: number;
  create_time: string;
}

const moves = (sb: SandboxApi) => sb.table<StageMoveRow>(STAGE_MOVES);

export function recordStageMove(
  sb: SandboxApi,
  m: { opportunityId: number; from: number; to: number; prevTime?: string; userId: number },
): void {
  const t = moves(sb);
  const now = iso(sb.now());
  t.insert({
    id: t.nextId(),
    opportunity_id: m.opportunityId,
    move_time: now,
    move_from_stage_id: m.from,
    move_to_stage_id: m.to,
    ...(m.prevTime !== undefined ? { prev_stage_move_time: m.prevTime } : {}),
    user_id: m.userId,
    created_by: m.userId,
    create_time: now,
  });
}

function render(m: StageMoveRow): Record<string, unknown> {
  return {
    id: idStr(m.id),
    opportunity_id: idStr(m.opportunity_id),
    move_time: m.move_time,
    move_from_stage_id: idStr(m.move_from_stage_id),
    move_to_stage_id: idStr(m.move_to_stage_id),
    ...(m.prev_stage_move_time !== undefined ? { prev_stage_move_time: m.prev_stage_move_time } : {}),
    user_id: idStr(m.user_id),
    created_by: idStr(m.created_by),
    create_time: m.create_time,
  };
}

function list(req: SbRequest, sb: SandboxApi): SbResponse {
  return listV2(req, moves(sb).all(), {
    key: 'stage_moves',
    render,
    filter: {
      opportunity_id: { type: 'number', get: (m) => m.opportunity_id },
      user_id: { type: 'number', get: (m) => m.user_id },
    },
    orderBy: { id: (m) => m.id, move_date: (m) => m.move_time },
    defaultOrder: 'id asc',
  });
}

function get(req: SbRequest, sb: SandboxApi): SbResponse {
  const id = pathId(req, 'stage_move_id');
  const m = moves(sb).get(id);
  if (!m) throw notFound('Stage move', id);
  return { status: 200, body: render(m) };
}

const routes: SbRoute[] = [
  { method: 'GET', path: '/v2/opportunities/stageMoves', handler: list },
  { method: 'GET', path: '/v2/opportunities/stageMoves/{stage_move_id}', handler: get },
];

interface Opp {
  id: number;
  stage_id: number;
  user_id?: number;
  created_time: string;
  stage_entrance_time: string;
}

function seed(sb: SandboxApi): void {
  const stages = sb
    .table<{ id: number; order: number }>('opportunity_stages')
    .all()
    .sort((a, b) => a.order - b.order);
  const first = stages[0];
  if (!first) return;
  const t = moves(sb);
  for (const o of sb.table<Opp>('opportunities').all()) {
    if (o.stage_id === first.id) continue;
    const idx = stages.findIndex((s) => s.id === o.stage_id);
    const from = stages[Math.max(0, idx - 1)] ?? first;
    t.insert({
      id: t.nextId(),
      opportunity_id: o.id,
      move_time: o.stage_entrance_time,
      move_from_stage_id: from.id,
      move_to_stage_id: o.stage_id,
      prev_stage_move_time: o.created_time,
      user_id: o.user_id ?? 1,
      created_by: o.user_id ?? 1,
      create_time: o.stage_entrance_time,
    });
  }
}

export const stageMovesModule: SbModule = { name: 'stageMoves', routes, seed };
