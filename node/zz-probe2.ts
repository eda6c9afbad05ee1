export const answer2: number = 1;
