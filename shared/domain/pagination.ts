import { z } from "zod";

export interface Pagination {
  page: number;
  pages: number;
  per_page: number;
  total: number;
  next: number | null;
  prev: number | null;
}

/** A page asked for: `page` counts from 1, `perPage` items each (pageQuerySchema bounds both). */
export interface PageRequest {
  page: number;
  perPage: number;
}

export const MAX_PER_PAGE = 1000;

/** `?page=&per_page=` with the contract's defaults per list; unknown query keys are left to the caller. */
export function pageQuerySchema(defaultPerPage: number) {
  return z.object({
    page: z.coerce.number().int().min(1, "page starts at 1").max(10_000_000).default(1),
    per_page: z.coerce.number().int().min(1).max(MAX_PER_PAGE, `per_page is at most ${MAX_PER_PAGE}`).default(defaultPerPage),
  });
}

/** Zero-based offset of the first item of a page. */
export function pageOffset({ page, perPage }: PageRequest): number {
  return (page - 1) * perPage;
}

/** The contract's pagination block. An empty list still has one (empty) page. */
export function paginate({ page, perPage }: PageRequest, total: number): Pagination {
  const pages = Math.max(1, Math.ceil(total / perPage));
  return {
    page,
    pages,
    per_page: perPage,
    total,
    next: page < pages ? page + 1 : null,
    prev: page > 1 ? Math.min(page - 1, pages) : null,
  };
}
