-- Operators' queries over every instance: by name, by time, and a parent's children.
CREATE INDEX wf_instances_created ON wf_instances (created_at, instance_id);
CREATE INDEX wf_instances_updated ON wf_instances (updated_at, instance_id);
CREATE INDEX wf_instances_name ON wf_instances (name, created_at);
CREATE INDEX wf_instances_parent ON wf_instances (parent_instance_id, completed_at);
CREATE INDEX wf_activities_created ON wf_activities (created_at);
