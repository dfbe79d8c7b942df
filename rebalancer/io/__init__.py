"""Reading and writing: the input tables, the plan folder, the SSD import."""
