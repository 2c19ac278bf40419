/**
 * Three-way merge of plain JSON values: what changed from base on one side
 * only is taken from that side; objects merge member by member, arrays of
 * objects with distinct ids item by item (theirs' order, your new items
 * after), where all three are objects (id-arrays); a path changed on both
 * sides to different results is a conflict,
 * settled by pick(pointer, yours, theirs), which defaults to theirs.
 * undefined stands for "absent".
 * @param {*} base the value both sides started from
 * @param {*} yours
 * @param {*} theirs
 * @param {(pointer: string, yours: *, theirs: *) => *} [pick]
 * @returns {{value: *, conflicts: Array<{pointer: string, yours: *,
 *   theirs: *, base: *}>}}
 */
export function merge3(base: any, yours: any, theirs: any, pick?: (pointer: string, yours: any, theirs: any) => any): {
    value: any;
    conflicts: Array<{
        pointer: string;
        yours: any;
        theirs: any;
        base: any;
    }>;
};
/**
 * Opens a <verstore-conflict> dialog over the page and resolves to the
 * person's choice. Nothing clashes (a refusal that a merge settles): no
 * dialog, {choice: 'merged', value: the merge}.
 * @param {{base: *, yours: *, theirs: *, key?: string,
 *   by?: string | null, at?: string | null}} ctx as the element's ask()
 * @param {{title?: string, whole?: boolean}} [opts]
 * @returns {Promise<{choice: 'merged' | 'mine' | 'theirs' | 'picked' |
 *   'reload' | 'overwrite' | 'cancel', value: *}>} as the element's ask()
 */
export function openConflict(ctx: {
    base: any;
    yours: any;
    theirs: any;
    key?: string;
    by?: string | null;
    at?: string | null;
}, opts?: {
    title?: string;
    whole?: boolean;
}): Promise<{
    choice: "merged" | "mine" | "theirs" | "picked" | "reload" | "overwrite" | "cancel";
    value: any;
}>;
/**
 * Opens a <verstore-conflict> dialog and resolves to the value to write:
 * the shape of update()'s onConflict. Cancel rejects with an AbortError,
 * so that update() writes nothing.
 * @param {{base: *, yours: *, theirs: *, key?: string,
 *   by?: string | null, at?: string | null}} ctx as the element's ask()
 * @param {{title?: string, whole?: boolean}} [opts]
 * @returns {Promise<*>}
 */
export function askConflict(ctx: {
    base: any;
    yours: any;
    theirs: any;
    key?: string;
    by?: string | null;
    at?: string | null;
}, opts?: {
    title?: string;
    whole?: boolean;
}): Promise<any>;
/**
 * <verstore-conflict>: a modal dialog over the page. Use askConflict(), or
 * the element's ask(ctx, opts) when it is already in the page.
 */
export class VerstoreConflict extends HTMLElement {
    /**
     * Shows the clash and waits for the person's choice.
     * @param {{base: *, yours: *, theirs: *, key?: string,
     *   by?: string | null, at?: string | null}} ctx by and at: who wrote
     *   theirs and when (RFC 3339), as update() and save() pass them from
     *   the server's refusal; the dialog names them
     * @param {{title?: string, whole?: boolean}} [opts] whole: also offer
     *   "Reload theirs" and "Overwrite with mine" (whole documents).
     * @returns {Promise<{choice: 'mine'|'theirs'|'picked'|'reload'|
     *   'overwrite'|'cancel', value: *}>} value: what to write (undefined
     *   for cancel); for reload, theirs.
     */
    ask(ctx: {
        base: any;
        yours: any;
        theirs: any;
        key?: string;
        by?: string | null;
        at?: string | null;
    }, opts?: {
        title?: string;
        whole?: boolean;
    }): Promise<{
        choice: "mine" | "theirs" | "picked" | "reload" | "overwrite" | "cancel";
        value: any;
    }>;
}
